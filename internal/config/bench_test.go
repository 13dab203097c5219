package config_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/config"
)

// largeState has 200 flags and a cohort of 100,000 listed members.
func largeState() *flags.State {
	st := exampleState()
	members := make([]cohorts.Member, 100_000)
	for i := range members {
		members[i] = cohorts.Member{ID: fmt.Sprintf("user-%07d", i)}
	}
	st.Cohorts = append(st.Cohorts, cohorts.Cohort{Key: "big", Members: members})
	for i := range 200 {
		f := exampleState().Flags[1]
		f.Key = fmt.Sprintf("flag-%03d", i)
		st.Flags = append(st.Flags, f)
	}
	return &st
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := config.Encode(&buf, largeState(), config.YAML); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		doc, err := config.Parse("large.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		st := doc.Resolve(nil)
		if err := doc.Validate(&st); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	st := largeState()
	b.ReportAllocs()
	for b.Loop() {
		if err := config.Encode(io.Discard, st, config.YAML); err != nil {
			b.Fatal(err)
		}
	}
}
