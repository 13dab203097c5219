package ramp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// kindOf is an error of another package that declares its kind by matching
// a sentinel, as the store's typed errors do.
type kindOf struct{ k ramp.Kind }

func (e kindOf) Error() string        { return "typed" }
func (e kindOf) Is(target error) bool { return target == e.k }

func TestKindOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want ramp.Kind
	}{
		{"nil", nil, ramp.KindInternal},
		{"plain", errors.New("disk full"), ramp.KindInternal},
		{"sentinel", ramp.ErrNotFound, ramp.KindNotFound},
		{"wrapped sentinel", fmt.Errorf("read flag x: %w", ramp.ErrConflict), ramp.KindConflict},
		{"Errorf", ramp.Errorf(ramp.KindRefused, "rollout %s is paused", "x"), ramp.KindRefused},
		{"typed error with Is", fmt.Errorf("op: %w", kindOf{ramp.KindNotFound}), ramp.KindNotFound},
		{"validation error", fmt.Errorf("apply: %w", &flags.ValidationError{}), ramp.KindInvalid},
		{"refused move", fmt.Errorf("advance: %w", rollout.ErrMove), ramp.KindRefused},
		{"canceled", fmt.Errorf("import: %w", context.Canceled), ramp.KindCanceled},
		{"outermost Error wins", &ramp.Error{Kind: ramp.KindInternal, Err: &flags.ValidationError{}}, ramp.KindInternal},
		{"unknown kind", ramp.Kind(200), ramp.KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ramp.KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorfWrapsAndMatches(t *testing.T) {
	base := errors.New("locked")
	err := ramp.Errorf(ramp.KindBusy, "import into employees: %w", base)
	if !errors.Is(err, base) || !errors.Is(err, ramp.ErrBusy) || errors.Is(err, ramp.ErrConflict) {
		t.Errorf("errors.Is on %v: base %v, busy %v, conflict %v", err, errors.Is(err, base), errors.Is(err, ramp.ErrBusy), errors.Is(err, ramp.ErrConflict))
	}
	if got, want := err.Error(), "import into employees: locked"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func ExampleKindOf() {
	err := fmt.Errorf("advance messenger-ig-interop: %w",
		ramp.Errorf(ramp.KindRefused, "the rollout is paused by bob: %s", "crash rate up"))
	fmt.Println(ramp.KindOf(err), errors.Is(err, ramp.ErrRefused))
	// Output: refused true
}
