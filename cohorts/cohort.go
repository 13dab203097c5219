package cohorts

import (
	"fmt"
	"unicode/utf8"
)

// MaxIDLength is the longest user id a cohort accepts, in bytes.
const MaxIDLength = 256

// Member is one user of an explicit cohort list, with the user's home region
// when it is known.
type Member struct {
	ID     string `json:"id"`
	Region Region `json:"region,omitempty"`
}

// Cohort is a named group of users: an explicit member list, attribute
// conditions that must all hold, or both (a context belongs to the cohort when
// its targeting key is listed OR it satisfies every condition). A cohort with
// neither matches nobody.
type Cohort struct {
	Key         string      `json:"key"`
	Description string      `json:"description,omitempty"`
	When        []Condition `json:"when,omitempty"`
	Members     []Member    `json:"members,omitempty"`
	// Version counts the changes the store has accepted for this cohort; it
	// is used to detect concurrent edits and is not part of configuration.
	Version int64 `json:"-"`
	// MemberCount is the number of listed members as reported by a store
	// that did not load them into Members.
	MemberCount int `json:"-"`
}

// ValidateKey checks a flag or cohort key: 1 to 128 characters, letters,
// digits, '-', '_' and '.', starting with a letter or digit.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("key is required")
	}
	if len(key) > 128 {
		return fmt.Errorf("key %.20q… is longer than 128 characters", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return fmt.Errorf("key %q: use letters, digits, '-', '_' and '.', starting with a letter or digit", key)
		}
	}
	return nil
}

// ValidateID checks a member's user id: non-empty, valid UTF-8, at most
// MaxIDLength bytes, without control characters, and without the invisible
// characters that make an id display as another (see InvisibleRune): a
// bidirectional control reorders how it reads in a terminal, a log or a
// review ("admin\u202Egnp.exe"), a zero-width character makes two ids that
// look the same differ. Right-to-left text itself is accepted.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("empty user id")
	case len(id) > MaxIDLength:
		return fmt.Errorf("user id is %d bytes long; the limit is %d", len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("user id is not valid UTF-8")
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("user id %q contains a control character", id)
		}
		if name, kind := InvisibleRune(r); name != "" {
			return fmt.Errorf("user id %q contains U+%04X %s, a %s", id, r, name, kind)
		}
	}
	return nil
}

// InvisibleRune names the invisible characters ValidateID refuses in ids,
// with their kind, or returns "", "" for any other rune:
//
//   - bidirectional controls: U+202A–U+202E (embeddings, overrides, pop),
//     U+2066–U+2069 (isolates), U+200E and U+200F (marks), U+061C (Arabic
//     letter mark);
//   - zero-width characters: U+200B–U+200D (space, non-joiner, joiner),
//     U+2060 (word joiner) and U+FEFF (zero-width no-break space, the
//     byte-order mark, refused anywhere in an id: a file's own mark is
//     skipped before its rows are read).
func InvisibleRune(r rune) (name, kind string) {
	const (
		bidi      = "bidirectional control character"
		zeroWidth = "zero-width character"
	)
	if r < 0x061c {
		return "", "" // the common case, ASCII and most scripts, in one test
	}
	switch r {
	case 0x061c:
		return "ARABIC LETTER MARK", bidi
	case 0x200e:
		return "LEFT-TO-RIGHT MARK", bidi
	case 0x200f:
		return "RIGHT-TO-LEFT MARK", bidi
	case 0x202a:
		return "LEFT-TO-RIGHT EMBEDDING", bidi
	case 0x202b:
		return "RIGHT-TO-LEFT EMBEDDING", bidi
	case 0x202c:
		return "POP DIRECTIONAL FORMATTING", bidi
	case 0x202d:
		return "LEFT-TO-RIGHT OVERRIDE", bidi
	case 0x202e:
		return "RIGHT-TO-LEFT OVERRIDE", bidi
	case 0x2066:
		return "LEFT-TO-RIGHT ISOLATE", bidi
	case 0x2067:
		return "RIGHT-TO-LEFT ISOLATE", bidi
	case 0x2068:
		return "FIRST STRONG ISOLATE", bidi
	case 0x2069:
		return "POP DIRECTIONAL ISOLATE", bidi
	case 0x200b:
		return "ZERO WIDTH SPACE", zeroWidth
	case 0x200c:
		return "ZERO WIDTH NON-JOINER", zeroWidth
	case 0x200d:
		return "ZERO WIDTH JOINER", zeroWidth
	case 0x2060:
		return "WORD JOINER", zeroWidth
	case 0xfeff:
		return "ZERO WIDTH NO-BREAK SPACE (byte-order mark)", zeroWidth
	}
	return "", ""
}

// Compiled is a cohort prepared for evaluation. It is immutable.
type Compiled struct {
	key      string
	members  *Set
	matchers []*Matcher
}

// Compile validates the cohort and builds its membership set. If members is
// not nil it is used instead of c.Members (stores pass a prebuilt set for
// large imported lists).
func (c Cohort) Compile(members *Set) (*Compiled, error) {
	if err := ValidateKey(c.Key); err != nil {
		return nil, err
	}
	out := &Compiled{key: c.Key, members: members}
	if members == nil && len(c.Members) > 0 {
		ids := make([]string, len(c.Members))
		for i, m := range c.Members {
			ids[i] = m.ID
		}
		out.members = NewSet(ids)
	}
	for i, cond := range c.When {
		m, err := cond.Compile()
		if err != nil {
			return nil, fmt.Errorf("when[%d]: %w", i, err)
		}
		out.matchers = append(out.matchers, m)
	}
	return out, nil
}

// Key returns the cohort's key.
func (c *Compiled) Key() string { return c.key }

// Members returns the membership set (nil for a rule-only cohort).
func (c *Compiled) Members() *Set { return c.members }

// Match reports whether a context belongs to the cohort. idHash is HashID of
// the context's targeting key and hasID says whether it has one.
func (c *Compiled) Match(ctx map[string]any, idHash uint64, hasID bool) bool {
	if hasID && c.members.ContainsHash(idHash) {
		return true
	}
	if len(c.matchers) == 0 {
		return false
	}
	for _, m := range c.matchers {
		if !m.Match(ctx) {
			return false
		}
	}
	return true
}
