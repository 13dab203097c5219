package chart

import (
	"io"
	"testing"
)

// The cost of one --plot: the report of three metrics × three arms with
// 21 days of series (900×1265 pixels).
//
//	go test ./internal/chart/ -run XXX -bench . -benchtime 20x

func BenchmarkReportPNG(b *testing.B) {
	r := report3x3()
	b.ReportAllocs()
	for b.Loop() {
		if err := WritePNG(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReportSVG(b *testing.B) {
	r := report3x3()
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteSVG(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
