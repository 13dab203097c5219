// Package auth says who is acting and what they may do: the principals
// behind API keys, personal tokens and dashboard sessions, their roles and
// capabilities, and the Authenticator that turns an HTTP request into a
// principal. The admin API, the web dashboard and the OFREP server all ask
// it, so that one rule decides who may do what.
package auth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ramp-flags/ramp"
)

// Role is what a credential may do, from least to most.
type Role string

// The roles. An sdk credential may only ask for decisions, read the
// snapshot feed and send tracking events; a viewer may besides read every
// object, status and the audit log; an editor may besides change them; an
// admin may besides manage keys, tokens and people. Approving a rollout
// stage is a capability of its own (Principal.Approve), granted to an
// editor or an admin.
const (
	RoleSDK    Role = "sdk"
	RoleViewer Role = "viewer"
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

// Roles lists the roles from least to most.
var Roles = []Role{RoleSDK, RoleViewer, RoleEditor, RoleAdmin}

// ParseRole returns the role named s. Its error matches ramp.ErrInvalid.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", &ramp.Error{Kind: ramp.KindInvalid, Msg: fmt.Sprintf("unknown role %q: one of sdk, viewer, editor, admin", s)}
}

// rank orders the roles; an unknown role ranks below every known one.
func (r Role) rank() int {
	for i, known := range Roles {
		if r == known {
			return i + 1
		}
	}
	return 0
}

// Permission is what a request needs.
type Permission int

// The permissions, each granted by a role or a capability.
const (
	// Evaluate is asking for decisions, the snapshot feed and tracking: sdk
	// and up.
	Evaluate Permission = iota
	// Read is reading objects, statuses, reports and the audit log: viewer
	// and up.
	Read
	// Write is changing flags, cohorts, rollouts and experiments: editor
	// and up.
	Write
	// ApproveStage is approving a rollout stage: the Approve capability,
	// which only an editor or an admin may hold.
	ApproveStage
	// Administer is managing keys, tokens and people: admin.
	Administer
)

// String names the permission as errors and the audit log say it.
func (p Permission) String() string {
	switch p {
	case Evaluate:
		return "evaluate"
	case Read:
		return "read"
	case Write:
		return "write"
	case ApproveStage:
		return "approve"
	case Administer:
		return "administer"
	}
	return fmt.Sprintf("permission(%d)", int(p))
}

// Kinds of credential a principal authenticated with.
const (
	KindKey     = "key"     // an API key, for automation and services
	KindToken   = "token"   // a personal token, for a person at the CLI
	KindSession = "session" // a dashboard session behind a cookie
)

// Principal is who a request acts for. Name is the audit log's actor: the
// person's name for a personal token or a session, the key's name for a
// key. It never holds a secret.
type Principal struct {
	Name string `json:"name"`
	// Kind is KindKey, KindToken or KindSession.
	Kind string `json:"kind"`
	Role Role   `json:"role"`
	// Approve is the capability to approve rollout stages.
	Approve bool `json:"approve,omitempty"`
	// CredentialID names the credential itself (never its secret): two
	// credentials of one person differ, and a credential created under a
	// revoked one's name gets another ID.
	CredentialID string `json:"credentialId,omitempty"`
	// Expires is when the credential stops working; zero for never.
	Expires time.Time `json:"expires,omitzero"`
}

// May reports whether the principal holds a permission.
func (p Principal) May(perm Permission) bool {
	switch perm {
	case Evaluate:
		return p.Role.rank() >= RoleSDK.rank()
	case Read:
		return p.Role.rank() >= RoleViewer.rank()
	case Write:
		return p.Role.rank() >= RoleEditor.rank()
	case ApproveStage:
		return p.Approve && p.Role.rank() >= RoleEditor.rank()
	case Administer:
		return p.Role == RoleAdmin
	}
	return false
}

// Authenticator turns a request into the principal it acts for. Its errors
// match ramp.ErrUnauthorized (no credential, an unknown, revoked or expired
// one, a secret in the URL's query string: 401) or are a *ThrottledError
// (too many failed attempts from the client's address: 429); any other
// error is a failure to check (503). Implementations are safe for
// concurrent use and never log or return a secret.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// ThrottledError refuses a client address that failed to authenticate too
// often. It matches ramp.ErrUnauthorized.
type ThrottledError struct {
	// RetryAfter is how long the address must wait.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed authentication attempts from this address: retry in %s", e.RetryAfter.Round(time.Second))
}

// Is makes a ThrottledError match ramp.ErrUnauthorized.
func (e *ThrottledError) Is(target error) bool { return target == ramp.ErrUnauthorized }

// Forbidden returns the error for a principal that lacks a permission: it
// matches ramp.ErrForbidden (403).
func Forbidden(p Principal, perm Permission) error {
	return &ramp.Error{Kind: ramp.KindForbidden,
		Msg: fmt.Sprintf("%s %q (role %s) may not %s", p.Kind, p.Name, p.Role, perm)}
}

type principalKey struct{}

// WithPrincipal returns a context that carries who acts.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal WithPrincipal put in ctx, and whether
// there is one.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
