package ramp

import (
	"errors"
	"fmt"
)

// Revision names one configuration: the database it was read from (Epoch)
// and how far that database's writes had gone (Version).
//
// Versions only grow within one database, but not across databases: a
// database made by `ramp export` and `ramp apply`, or one restored from a
// backup, starts again from a lower version. The epoch is what tells them
// apart. It is a random identifier drawn once per database, so every
// database has its own, and a copy of a database (a backup, a file copy)
// shares its original's until it is renewed (`ramp db renew-epoch`). Two
// revisions with different epochs cannot be ordered: the newer one is the
// one the database now holds.
type Revision struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
}

// String renders a revision as "<version>-<epoch>", the form ETags carry.
func (r Revision) String() string {
	return fmt.Sprintf("%d-%s", r.Version, r.Epoch)
}

// ErrListenUnsupported is returned by a store's Listen when its database
// cannot announce changes (SQLite): poll the revision instead.
var ErrListenUnsupported = errors.New("this database cannot announce changes; poll the version instead")
