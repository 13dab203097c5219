package admin

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/store"
)

// Authenticator returns the Checker that authenticates requests with this
// database's keys, personal tokens and sessions: ramp serve's OFREP,
// snapshot and tracking routes, the admin API and the dashboard share one.
// It polls the credentials version until ctx is done or it is closed.
func (s *Service) Authenticator(ctx context.Context, opt auth.Options) (*auth.Checker, error) {
	if opt.Now == nil {
		opt.Now = s.Now
	}
	return auth.NewChecker(ctx, credentials{s}, opt)
}

// credentials is the Service as an auth.Source.
type credentials struct{ s *Service }

func (c credentials) CredentialsVersion(ctx context.Context) (int64, error) {
	return c.s.db().CredentialsVersion(ctx)
}

func (c credentials) Credentials(ctx context.Context) ([]auth.Credential, error) {
	creds, err := c.s.db().ActiveCredentials(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]auth.Credential, len(creds))
	for i, cr := range creds {
		p := auth.Principal{Name: cr.Name, Role: auth.Role(cr.Role), Approve: cr.Approve,
			CredentialID: fmt.Sprintf("%s:%d", cr.Kind, cr.ID)}
		switch cr.Kind {
		case store.CredentialKey:
			p.Kind, p.Name = auth.KindKey, KeyActor(cr.Name)
		case store.CredentialToken:
			p.Kind = auth.KindToken
		}
		if cr.ExpiresAt != nil {
			p.Expires = *cr.ExpiresAt
		}
		out[i] = auth.Credential{Hash: cr.Hash, Principal: p, Kind: p.Kind, ID: cr.ID}
	}
	return out, nil
}

func (c credentials) Session(ctx context.Context, hash [sha256.Size]byte) (auth.SessionRecord, error) {
	sess, err := c.s.db().SessionByHash(ctx, hash)
	if err != nil {
		return auth.SessionRecord{}, err
	}
	return auth.SessionRecord{
		Principal: auth.Principal{Name: sess.Person, Kind: auth.KindSession, Role: auth.Role(sess.Role), Approve: sess.Approve,
			CredentialID: fmt.Sprintf("session:%d", sess.ID), Expires: sess.ExpiresAt},
		ID: sess.ID, LastSeen: sess.LastSeenAt, Idle: sess.Idle, Expires: sess.ExpiresAt,
	}, nil
}

func (c credentials) Touch(ctx context.Context, uses []auth.Use) error {
	batch := make([]store.CredentialUse, len(uses))
	for i, u := range uses {
		batch[i] = store.CredentialUse{Kind: u.Kind, ID: u.ID, At: u.At}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.s.db().TouchCredentials(ctx, batch)
}

// KeyActor is the audit log's actor for a key: "key:<name>".
func KeyActor(name string) string { return "key:" + name }
