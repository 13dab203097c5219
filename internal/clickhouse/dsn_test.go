package clickhouse

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

func TestParseDSN(t *testing.T) {
	for _, c := range []struct {
		dsn, name, addr string
	}{
		{"clickhouse://127.0.0.1:9000", "ramp", "127.0.0.1:9000"},
		{"clickhouse://127.0.0.1:9000/", "ramp", "127.0.0.1:9000"},
		{"clickhouse://u:p@ch.internal:9440/events_1?dial_timeout=2s", "events_1", "ch.internal:9440"},
	} {
		o, name, _, err := parseDSN(c.dsn)
		if err != nil || name != c.name || len(o.Addr) != 1 || o.Addr[0] != c.addr || o.Auth.Database != "" {
			t.Errorf("parseDSN(%q) = %v, %q, %v; want database %q at %s", c.dsn, o, name, err, c.name, c.addr)
		}
	}
}

// TestParseDSNStoreOptions: refresh_every and live_units are the Store's,
// taken out of what the driver sees; wrong values are refused.
func TestParseDSNStoreOptions(t *testing.T) {
	o, _, opt, err := parseDSN("clickhouse://u:secret@h:9000/ramp?refresh_every=30m&dial_timeout=2s&live_units=500000")
	if err != nil || opt.RefreshEvery != 30*time.Minute || opt.LiveUnits != 500000 || o.DialTimeout != 2*time.Second {
		t.Fatalf("parseDSN: %+v, %+v, %v; want refresh every 30m, 500,000 live units, a 2 s dial timeout", o, opt, err)
	}
	if _, ok := o.Settings["refresh_every"]; ok {
		t.Error("refresh_every reached the driver's settings")
	}
	for _, dsn := range []string{
		"clickhouse://u:secret@h:9000/ramp?refresh_every=soon",
		"clickhouse://u:secret@h:9000/ramp?refresh_every=-1m",
		"clickhouse://u:secret@h:9000/ramp?live_units=0",
		"clickhouse://u:secret@h:9000/ramp?live_units=many",
	} {
		_, _, _, err := parseDSN(dsn)
		if !errors.Is(err, ramp.ErrInvalid) || strings.Contains(err.Error(), "secret") {
			t.Errorf("parseDSN(%q): %v; want ramp.ErrInvalid without the password", dsn, err)
		}
	}
}

// FuzzParseDSN: whatever the string, parseDSN does not panic, refuses with
// ramp.ErrInvalid, never shows a password in its error, and accepts only a
// database name that needs no quoting.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{
		"clickhouse://127.0.0.1:9000/ramp", "clickhouse://u:secret@h:1/db?compress=lz4", "clickhouse://h/a`b",
		"clickhouse://h/a;DROP", "clickhouse://%zz", "postgres://x", "", "clickhouse://u:secret@h:1/db?dial_timeout=nope",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		_, name, _, err := parseDSN(dsn)
		if err != nil {
			if !errors.Is(err, ramp.ErrInvalid) {
				t.Fatalf("parseDSN(%q): %v does not match ramp.ErrInvalid", dsn, err)
			}
			if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
				if p, ok := u.User.Password(); ok && p != "xxxxx" && strings.Contains(err.Error(), ":"+p+"@") {
					t.Fatalf("parseDSN(%q): the error shows the password: %v", dsn, err)
				}
			}
			return
		}
		if !validDatabase.MatchString(name) || strings.ContainsAny(name, "`'\\;") {
			t.Fatalf("parseDSN(%q) accepted database %q", dsn, name)
		}
	})
}
