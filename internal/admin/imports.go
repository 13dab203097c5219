package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/internal/store"
)

// ImportMode says what an import does with a cohort's member list.
type ImportMode = store.ImportMode

// Import modes.
const (
	// ImportReplace makes the file the whole member list.
	ImportReplace = store.ImportReplace
	// ImportAdd adds the file's users; listed users keep their region
	// unless the file gives one.
	ImportAdd = store.ImportAdd
	// ImportRemove removes the file's users.
	ImportRemove = store.ImportRemove
)

// ParseImportMode reads a mode's name: replace, add or remove.
func ParseImportMode(s string) (ImportMode, error) {
	m, err := store.ParseImportMode(s)
	if err != nil {
		return "", ramp.Errorf(ramp.KindInvalid, "%w", err)
	}
	return m, nil
}

// ImportResult is what an import did (or, for a dry run or a diff, would
// do): rows read, users added, removed, with a changed region and
// unchanged, duplicates and rejected rows, the member count after and the
// users per region.
type ImportResult = store.ImportResult

// ErrEmptyReplace is matched by the refusal of a replace that read no rows
// for a cohort that has members, unless the request allows it: a file that
// reads as empty is more often a wrong file than an intent.
var ErrEmptyReplace = store.ErrEmptyReplace

// ImportRequest asks to import a CSV file into a cohort's member list.
type ImportRequest struct {
	Cohort string
	Mode   ImportMode // default ImportReplace
	// Source is the file's content: CSV with a header row, possibly
	// gzip-compressed. It is read once, as it streams into the database.
	Source io.Reader
	// File names the file in the record of the import and in errors ("-"
	// for stdin).
	File string
	// CSV says how to read it: columns, delimiter, limits. With OnInvalid
	// set, invalid rows are passed to it and skipped (and counted as
	// rejected); without, one invalid row rejects the file.
	CSV csvfile.Options
	// Create creates the cohort if it does not exist. Without it an
	// unknown cohort is refused with the closest existing key: a
	// misspelled name must not make a new cohort.
	Create bool
	// DryRun reads the whole file and reports what would change, writing
	// nothing.
	DryRun bool
	// AllowEmpty lets a replace with no valid rows empty a cohort.
	AllowEmpty bool
	// Samples is how many of the ids added and removed to return.
	Samples int
	// Header, when set, is called with the file's column names once its
	// header row is read, before any row (to head a file of rejects, say).
	Header func(columns []string) error
	// Progress, when set, is called as the file is read (every few
	// thousand rows, and once when the reading ends, with Done set).
	Progress func(ImportProgress)
}

// ImportProgress is how far an import has read its file.
type ImportProgress struct {
	Rows  int   // data rows read, valid or not
	Bytes int64 // bytes of the source read (compressed, if it is)
	Done  bool  // the file is read; the database merges the rows
}

// progressEvery is how many rows pass between two Progress calls.
const progressEvery = 4096

// ImportMembers streams a CSV file into a cohort's member list in one
// transaction: interrupted at any point, the cohort keeps its previous
// members. Rows are validated as the CSV reader reads them; the import is recorded with the
// file's SHA-256 and its counts in the cohort's import history and the
// audit log.
//
// An error about the file's content (an invalid row, a limit, a file that
// is not CSV) matches ramp.ErrInvalid and names the file; an error reading
// it is returned as it is.
func (s *Service) ImportMembers(ctx context.Context, req ImportRequest) (ImportResult, error) {
	return s.importMembers(ctx, req)
}

// DiffRequest asks what importing a file in replace mode would change.
type DiffRequest struct {
	Cohort string
	Source io.Reader
	File   string
	CSV    csvfile.Options
	// Samples is how many of the ids to add and to remove to list.
	Samples int
}

// Diff is what a replace would do to a cohort's member list.
type Diff struct {
	ImportResult
	// DidYouMean, for a cohort that does not exist (Created), is the
	// existing cohort whose key is closest, if any.
	DidYouMean string `json:"didYouMean,omitempty"`
}

// DiffMembers reads a file as ImportMembers does and reports what a replace
// would add and remove (with up to Samples ids of each), writing nothing.
// For a cohort that does not exist it reports every row as an addition and
// the closest existing key.
func (s *Service) DiffMembers(ctx context.Context, req DiffRequest) (Diff, error) {
	res, err := s.importMembers(ctx, ImportRequest{
		Cohort: req.Cohort, Mode: ImportReplace, Source: req.Source, File: req.File, CSV: req.CSV,
		Create: true, DryRun: true, AllowEmpty: true, Samples: req.Samples,
	})
	if err != nil {
		return Diff{}, err
	}
	d := Diff{ImportResult: res}
	if res.Created {
		d.DidYouMean = s.unknownCohortError(ctx, req.Cohort).Suggestion
	}
	return d, nil
}

func (s *Service) importMembers(ctx context.Context, req ImportRequest) (ImportResult, error) {
	if req.Mode == "" {
		req.Mode = ImportReplace
	}
	if _, err := ParseImportMode(string(req.Mode)); err != nil {
		return ImportResult{}, err
	}
	if err := cohorts.ValidateKey(req.Cohort); err != nil {
		return ImportResult{}, ramp.Errorf(ramp.KindInvalid, "cohort %w", err)
	}
	if req.File == "" {
		req.File = "-"
	}
	// The cohort as it is before the import: to refuse an unknown one
	// with a suggestion before reading the file, and to say how many
	// members an empty file would remove. The store checks again in the
	// transaction that writes (MustExist): a cohort deleted meanwhile is
	// refused there, not created again.
	before, err := s.db().Cohort(ctx, req.Cohort)
	switch {
	case errors.Is(err, store.ErrNotFound) && (!req.Create || req.Mode == ImportRemove):
		e := s.unknownCohortError(ctx, req.Cohort)
		e.NotCreated = req.Mode != ImportRemove
		return ImportResult{}, e
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return ImportResult{}, err
	}

	src := &importSource{hash: sha256.New(), progress: req.Progress}
	src.r = io.TeeReader(req.Source, countWriter{src})
	opt := req.CSV
	if onInvalid := opt.OnInvalid; onInvalid != nil {
		opt.OnInvalid = func(p csvfile.Problem) error {
			src.rejected++
			return onInvalid(p)
		}
	}
	if src.rd, err = csvfile.NewReader(src.r, opt); err != nil {
		return ImportResult{}, fileError(req.File, err)
	}
	if req.Header != nil {
		if err := req.Header(src.rd.Header()); err != nil {
			return ImportResult{}, err
		}
	}
	var readErr error // the file's, reported as is rather than as the store's
	next := func() (cohorts.Member, error) {
		m, err := src.next()
		if err != nil && !errors.Is(err, io.EOF) {
			readErr = fileError(req.File, err)
			return m, readErr
		}
		return m, err
	}
	finish := func() (string, int, error) {
		// What is left of the file (a gzip trailer) counts in its checksum.
		if _, err := io.Copy(io.Discard, src.r); err != nil {
			readErr = fileError(req.File, err)
			return "", 0, readErr
		}
		return hex.EncodeToString(src.hash.Sum(nil)), src.rejected, nil
	}
	res, err := s.db().ImportMembers(ctx, req.Cohort, store.ImportOptions{
		Mode: req.Mode, DryRun: req.DryRun, File: req.File, Finish: finish, Samples: req.Samples, AllowEmpty: req.AllowEmpty,
		MustExist: !req.Create,
	}, next, Actor(ctx))
	switch {
	case err == nil:
		return res, nil
	case readErr != nil:
		return ImportResult{}, readErr
	case errors.Is(err, store.ErrEmptyReplace):
		return ImportResult{}, &ramp.Error{Kind: ramp.KindInvalid, Err: store.ErrEmptyReplace,
			Msg: fmt.Sprintf("%s has no rows: a replace would remove all %d members of cohort %q; check the file (its header, delimiter and line ends)",
				req.File, before.MemberCount, req.Cohort)}
	}
	var nf *store.NotFoundError
	if errors.As(err, &nf) && nf.Kind == "cohort" && nf.Key == req.Cohort {
		e := s.unknownCohortError(ctx, req.Cohort)
		e.NotCreated = req.Mode != ImportRemove
		return ImportResult{}, e
	}
	return ImportResult{}, err
}

// importSource reads an import's file: it hashes and counts the bytes,
// parses the rows and reports progress.
type importSource struct {
	r        io.Reader
	hash     hash.Hash
	bytes    int64
	rd       *csvfile.Reader
	rejected int
	progress func(ImportProgress)
	done     bool
}

// countWriter counts and hashes the bytes the tee passes.
type countWriter struct{ s *importSource }

func (w countWriter) Write(p []byte) (int, error) {
	w.s.bytes += int64(len(p))
	return w.s.hash.Write(p)
}

// next returns the next valid row's member.
func (s *importSource) next() (cohorts.Member, error) {
	row, err := s.rd.Next()
	if err != nil {
		if s.progress != nil && !s.done {
			s.done = true
			s.progress(ImportProgress{Rows: s.rd.Rows(), Bytes: s.bytes, Done: true})
		}
		return cohorts.Member{}, err
	}
	if s.progress != nil && s.rd.Rows()%progressEvery == 0 {
		s.progress(ImportProgress{Rows: s.rd.Rows(), Bytes: s.bytes})
	}
	return row.Member, nil
}

// fileError marks the CSV reader's errors about the file's content as
// invalid input, naming the file; an I/O error is returned as it is, with
// the file's name.
func fileError(name string, err error) error {
	var (
		ie *csvfile.InvalidError
		fe *csvfile.FormatError
		le *csvfile.LimitError
	)
	if errors.As(err, &ie) || errors.As(err, &fe) || errors.As(err, &le) {
		return ramp.Errorf(ramp.KindInvalid, "%s: %w", name, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}
