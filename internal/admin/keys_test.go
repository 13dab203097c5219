package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
)

// openAdmin opens the control plane on a new SQLite file, closed when the
// test ends.

func TestKeys(t *testing.T) {
	ctx := admin.WithActor(context.Background(), "tester")
	a, _ := open(t)
	for _, tt := range []struct {
		req  admin.CreateKeyRequest
		want error
	}{
		{admin.CreateKeyRequest{Name: "checkout", Role: admin.RoleSDK}, nil},
		{admin.CreateKeyRequest{Name: "ops", Role: admin.RoleAdmin}, nil},
		{admin.CreateKeyRequest{Name: "checkout", Role: admin.RoleSDK}, ramp.ErrConflict},
		{admin.CreateKeyRequest{Name: "x", Role: "root"}, ramp.ErrInvalid},
		{admin.CreateKeyRequest{Name: " ", Role: admin.RoleSDK}, ramp.ErrInvalid},
		{admin.CreateKeyRequest{Name: "ci", Role: admin.RoleEditor, Approve: true}, nil},
		{admin.CreateKeyRequest{Name: "dash", Role: admin.RoleViewer}, nil},
		{admin.CreateKeyRequest{Name: "y", Role: admin.RoleViewer, Approve: true}, ramp.ErrInvalid},
		{admin.CreateKeyRequest{Name: "z", Role: admin.RoleSDK, Expires: time.Now().Add(-time.Hour)}, ramp.ErrInvalid},
	} {
		k, err := a.CreateKey(ctx, tt.req)
		if !errors.Is(err, tt.want) || err == nil && (k.Secret == "" || k.Name != tt.req.Name || k.CreatedBy != "tester") {
			t.Errorf("CreateKey(%+v) = %+v, %v; want error %v", tt.req, k, err, tt.want)
		}
	}
	if _, err := a.RevokeKey(ctx, "checkout"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeKey(ctx, "checkout"); !errors.Is(err, ramp.ErrNotFound) {
		t.Errorf("revoking a revoked key: %v, want not found", err)
	}
	for all, want := range map[bool]int{false: 3, true: 4} {
		if ks, err := a.Keys(ctx, all); err != nil || len(ks) != want {
			t.Errorf("Keys(all=%v) = %d keys, %v; want %d", all, len(ks), err, want)
		}
	}
}
