package spelling_test

import (
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/spelling"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"guardrails", "guardrails", 0},
		{"guardrail", "guardrails", 1},
		{"kitten", "sitting", 3},
		{"", "abc", 3},
		{"flaw", "lawn", 2},
		{strings.Repeat("a", 65), "a", 64},
	}
	for _, tt := range tests {
		if got := spelling.Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := spelling.Distance(tt.b, tt.a); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}
