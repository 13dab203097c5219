package sso

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
)

// RoleMap says which people single sign-on admits, and with what role and
// capability: a list of rules, the first that matches a person deciding.
// Someone no rule matches is refused; write a last rule "* = viewer" to
// let everyone the issuer vouches for read.
type RoleMap struct {
	Rules []Rule
}

// Rule is one line of a RoleMap: "KIND:VALUE = ROLE[+approve]" where KIND
// is email (an address, exactly, ignoring case), domain (the domain of the
// address, exactly) or group (a value of the groups claim), or "*" for
// anyone; ROLE is viewer, editor or admin.
type Rule struct {
	Kind    string // "email", "domain", "group" or "*"
	Value   string
	Role    auth.Role
	Approve bool
}

// Identity is what the issuer's ID token says of a person.
type Identity struct {
	Subject       string
	Email         string
	EmailVerified bool
	Groups        []string
}

// Match returns the rule that decides for a person, if any. An email
// address the issuer has not verified (email_verified false) matches no
// email or domain rule.
func (m RoleMap) Match(id Identity) (Rule, bool) {
	email := ""
	if id.EmailVerified {
		email = strings.ToLower(id.Email)
	}
	_, domain, _ := strings.Cut(email, "@")
	for _, r := range m.Rules {
		switch r.Kind {
		case "*":
			return r, true
		case "email":
			if email != "" && email == r.Value {
				return r, true
			}
		case "domain":
			if domain != "" && domain == r.Value {
				return r, true
			}
		case "group":
			for _, g := range id.Groups {
				if g == r.Value {
					return r, true
				}
			}
		}
	}
	return Rule{}, false
}

// LoadRoleMap reads --oidc-roles: the path of a file of rules, one a line
// ("#" begins a comment), or the rules themselves separated by commas or
// semicolons.
func LoadRoleMap(spec string) (RoleMap, error) {
	text := spec
	if st, err := os.Stat(spec); err == nil && !st.IsDir() {
		b, err := os.ReadFile(spec)
		if err != nil {
			return RoleMap{}, fmt.Errorf("read the role map: %w", err)
		}
		text = string(b)
	} else {
		text = strings.NewReplacer(",", "\n", ";", "\n").Replace(spec)
	}
	return ParseRoleMap(text)
}

// ParseRoleMap reads rules, one a line. Its errors match ramp.ErrInvalid
// and name the line.
func ParseRoleMap(text string) (RoleMap, error) {
	var m RoleMap
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		r, err := parseRule(line)
		if err != nil {
			return RoleMap{}, &ramp.Error{Kind: ramp.KindInvalid, Msg: fmt.Sprintf("role map, rule %d (%q): %v", n, line, err)}
		}
		m.Rules = append(m.Rules, r)
	}
	if err := sc.Err(); err != nil {
		return RoleMap{}, &ramp.Error{Kind: ramp.KindInvalid, Msg: fmt.Sprintf("role map: %v", err)}
	}
	if len(m.Rules) == 0 {
		return RoleMap{}, &ramp.Error{Kind: ramp.KindInvalid, Msg: "the role map has no rule: nobody could log in (write, say, \"domain:example.com = editor\")"}
	}
	return m, nil
}

func parseRule(line string) (Rule, error) {
	who, grant, ok := strings.Cut(line, "=")
	if !ok {
		return Rule{}, fmt.Errorf("want WHO = ROLE, such as \"group:release-managers = editor+approve\"")
	}
	who, grant = strings.TrimSpace(who), strings.TrimSpace(grant)
	var r Rule
	role, caps, _ := strings.Cut(grant, "+")
	switch strings.TrimSpace(caps) {
	case "":
	case "approve":
		r.Approve = true
	default:
		return Rule{}, fmt.Errorf("unknown capability %q (the one there is: approve)", caps)
	}
	parsed, err := auth.ParseRole(strings.TrimSpace(role))
	if err != nil || parsed == auth.RoleSDK {
		return Rule{}, fmt.Errorf("the role is viewer, editor or admin, not %q", role)
	}
	r.Role = parsed
	if r.Approve && r.Role == auth.RoleViewer {
		return Rule{}, fmt.Errorf("a viewer may not approve")
	}
	if who == "*" {
		r.Kind = "*"
		return r, nil
	}
	kind, value, ok := strings.Cut(who, ":")
	value = strings.TrimSpace(value)
	if !ok || value == "" {
		return Rule{}, fmt.Errorf("who is email:ADDRESS, domain:DOMAIN, group:GROUP or *, not %q", who)
	}
	switch kind = strings.TrimSpace(kind); kind {
	case "email":
		if !strings.Contains(value, "@") {
			return Rule{}, fmt.Errorf("%q is not an email address", value)
		}
		value = strings.ToLower(value)
	case "domain":
		value = strings.ToLower(strings.TrimPrefix(value, "@"))
	case "group":
	default:
		return Rule{}, fmt.Errorf("who is email:, domain:, group: or *, not %q", kind)
	}
	r.Kind, r.Value = kind, value
	return r, nil
}
