package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// examples are the charts every test below draws.
func examples() []struct {
	name  string
	chart Chart
	title string
	texts []string // labels the chart must show
} {
	f3 := forest3x3()
	f12 := forest12()
	rep := report3x3()
	one := series("reply-rate", "inline", 0.02, 21, 1)
	type ex = struct {
		name  string
		chart Chart
		title string
		texts []string
	}
	return []ex{
		{"forest-3x3", f3, f3.Title, []string{"replies-per-user", "reply-rate", "send-errors-per-message", "inline", "handoff", "inline-with-preview", "+5.2%", "p 0.001"}},
		{"forest-12", &f12, f12.Title, append(metricKeys(f12), "arm: inline", "only 40 units", minus+"∞ to +∞")},
		{"report", rep, rep.Title, []string{"Relative lift vs control", seriesHeading, "replies-per-user", "inline-with-preview", "Mar 10"}},
		{"series", one, "reply-rate · inline", []string{"Mar 5", "+4%"}},
	}
}

// rendered draws an example once per test binary and format: PNG under
// the race detector takes seconds, and several tests read the same image.
func rendered(t *testing.T, name, format string) []byte {
	t.Helper()
	renders.Lock()
	defer renders.Unlock()
	key := name + "." + format
	if out, ok := renders.m[key]; ok {
		return out
	}
	for _, ex := range examples() {
		if ex.name != name {
			continue
		}
		write := WriteSVG
		if format == "png" {
			write = WritePNG
		}
		var buf bytes.Buffer
		if err := write(&buf, ex.chart); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		renders.m[key] = buf.Bytes()
		return buf.Bytes()
	}
	t.Fatalf("no example %q", name)
	return nil
}

var renders = struct {
	sync.Mutex
	m map[string][]byte
}{m: map[string][]byte{}}

func metricKeys(f Forest) []string {
	var keys []string
	for _, r := range f.Rows {
		keys = append(keys, r.Metric)
	}
	return keys
}

func TestPNGDecodesAtItsSize(t *testing.T) {
	for _, ex := range examples() {
		t.Run(ex.name, func(t *testing.T) {
			img, err := png.Decode(bytes.NewReader(rendered(t, ex.name, "png")))
			if err != nil {
				t.Fatalf("png.Decode: %v", err)
			}
			w, h, err := Size(ex.chart)
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds().Size(); got.X != w || got.Y != h || w != Width {
				t.Errorf("PNG is %v, want %dx%d (Width %d)", got, w, h, Width)
			}
			if h < 200 || h > 4000 {
				t.Errorf("height %d is not a sensible height", h)
			}
			// White, not transparent, so it shows on a dark page.
			if r, g, b, a := img.At(1, 1).RGBA(); r != 0xffff || g != 0xffff || b != 0xffff || a != 0xffff {
				t.Errorf("corner pixel is %v, want opaque white", img.At(1, 1))
			}
		})
	}
}

func TestHeightGrowsWithRows(t *testing.T) {
	f := forest3x3()
	_, h9, _ := Size(f)
	f.Rows = f.Rows[:3]
	_, h3, _ := Size(f)
	if h9 <= h3 {
		t.Errorf("9 rows are %d px high, 3 rows %d px: want taller", h9, h3)
	}
}

// svgDoc is what the tests read of an SVG document.
type svgDoc struct {
	Width, Height string
	Title         string
	Texts         []string
}

func parseSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	var doc svgDoc
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse as XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
			if tok.Name.Local == "svg" && len(stack) == 1 {
				for _, a := range tok.Attr {
					switch a.Name.Local {
					case "width":
						doc.Width = a.Value
					case "height":
						doc.Height = a.Value
					}
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch stack[len(stack)-1] {
			case "title":
				doc.Title += string(tok)
			case "text":
				doc.Texts = append(doc.Texts, string(tok))
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("SVG ends with open elements %v", stack)
	}
	return doc
}

func TestSVGParsesWithTitleAndLabels(t *testing.T) {
	for _, ex := range examples() {
		t.Run(ex.name, func(t *testing.T) {
			svg := rendered(t, ex.name, "svg")
			doc := parseSVG(t, svg)
			w, h, _ := Size(ex.chart)
			if doc.Width != fmt.Sprint(w) || doc.Height != fmt.Sprint(h) {
				t.Errorf("svg is %s × %s, want %d × %d", doc.Width, doc.Height, w, h)
			}
			if doc.Title != ex.title {
				t.Errorf("<title> = %q, want %q", doc.Title, ex.title)
			}
			all := "\n" + strings.Join(doc.Texts, "\n") + "\n"
			for _, want := range append(ex.texts, ex.title) {
				if !strings.Contains(all, "\n"+want+"\n") {
					t.Errorf("no <text> %q among %q", want, doc.Texts)
				}
			}
			if bytes.Contains(svg, []byte("font-family:Liberation Sans;")) {
				t.Error("text without font fallbacks")
			}
			if n, m := bytes.Count(svg, []byte("<text ")), bytes.Count(svg, []byte(`lengthAdjust="spacingAndGlyphs"`)); n != m {
				t.Errorf("%d of %d <text> elements have a textLength", m, n)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, ex := range examples() {
		for _, format := range []string{"svg", "png"} {
			// Every SVG, and the PNG of the smallest chart: the PNG's
			// layout is the SVG's, and rasterising under the race
			// detector is slow.
			if format == "png" && ex.name != "series" {
				continue
			}
			t.Run(ex.name+"."+format, func(t *testing.T) {
				want := rendered(t, ex.name, format)
				write := WriteSVG
				if format == "png" {
					write = WritePNG
				}
				// Renders at once, as the dashboard will do: the same
				// bytes every time, and no race on the font cache.
				const n = 2
				out := make([][]byte, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						var buf bytes.Buffer
						if err := write(&buf, ex.chart); err != nil {
							t.Error(err)
						}
						out[i] = buf.Bytes()
					})
				}
				wg.Wait()
				for i, got := range out {
					if !bytes.Equal(got, want) {
						t.Fatalf("render %d differs from the first (%d vs %d bytes)", i+1, len(got), len(want))
					}
				}
			})
		}
	}
}

// box is the rectangle a drawn string covers.
type box struct {
	s              string
	x0, y0, x1, y1 vg.Length
	fontName       string
	fontSize       vg.Length
}

// texts draws a chart on a recorder and returns where each string went.
func texts(t *testing.T, c Chart) ([]box, vg.Length) {
	t.Helper()
	fig, err := c.figure()
	if err != nil {
		t.Fatal(err)
	}
	rec := new(recorder.Canvas)
	if err := paint(fig, draw.NewCanvas(rec, Width, fig.height())); err != nil {
		t.Fatal(err)
	}
	var out []box
	for _, a := range rec.Actions {
		fs, ok := a.(*recorder.FillString)
		if !ok {
			continue
		}
		if !fonts.Has(fs.Font) {
			t.Errorf("%q drawn in %v, a font not in the package's Liberation cache", fs.String, fs.Font.Name())
		}
		face := fonts.Lookup(fs.Font, fs.Size)
		ext := face.Extents()
		out = append(out, box{s: fs.String,
			x0: fs.Point.X, x1: fs.Point.X + face.Width(fs.String),
			y0: fs.Point.Y - ext.Descent, y1: fs.Point.Y + ext.Ascent,
			fontName: fs.Font.Name(), fontSize: fs.Size})
	}
	return out, fig.height()
}

func TestLabelsDoNotOverlap(t *testing.T) {
	for _, ex := range examples() {
		t.Run(ex.name, func(t *testing.T) {
			boxes, h := texts(t, ex.chart)
			if len(boxes) < 10 {
				t.Fatalf("only %d strings drawn", len(boxes))
			}
			for i, a := range boxes {
				if a.x0 < 0 || a.x1 > Width || a.y0 < 0 || a.y1 > h {
					t.Errorf("%q at [%.1f,%.1f]×[%.1f,%.1f] leaves the %d×%.0f image", a.s, a.x0, a.x1, a.y0, a.y1, Width, h)
				}
				for _, b := range boxes[i+1:] {
					// Half a pixel of slack: neighbouring rows' ascent
					// and descent may touch.
					const slack = 0.5
					if a.x0 < b.x1-slack && b.x0 < a.x1-slack && a.y0 < b.y1-slack && b.y0 < a.y1-slack {
						t.Errorf("%q [%.1f,%.1f]×[%.1f,%.1f] overlaps %q [%.1f,%.1f]×[%.1f,%.1f]",
							a.s, a.x0, a.x1, a.y0, a.y1, b.s, b.x0, b.x1, b.y0, b.y1)
					}
				}
			}
		})
	}
}

func TestEveryGlyphIsInTheFont(t *testing.T) {
	var buf sfnt.Buffer
	for _, ex := range examples() {
		boxes, _ := texts(t, ex.chart)
		for _, b := range boxes {
			face := fonts.Lookup(sansRegular, 12)
			if strings.Contains(b.fontName, "Bold") {
				face = fonts.Lookup(sansBold, 12)
			}
			for _, r := range b.s {
				if i, err := face.Face.GlyphIndex(&buf, r); err != nil || i == 0 {
					t.Errorf("%s: %q in %q has no glyph in %s", ex.name, r, b.s, b.fontName)
				}
			}
		}
	}
}

func TestLongKeysAreShortenedNotOverlapped(t *testing.T) {
	long := strings.Repeat("very-long-metric-key-", 6) + "end" // 129 characters, over the 128 allowed
	f := Forest{Rows: []ForestRow{
		{Metric: long, Arm: strings.Repeat("arm", 30), Estimate: 0.01, Fixed: Interval{-0.01, 0.03}, Note: strings.Repeat("note ", 40)},
		{Metric: "short", Arm: "b", Estimate: 0.02, Fixed: Interval{0.01, 0.03}},
	}}
	boxes, _ := texts(t, f)
	var shortened int
	for _, b := range boxes {
		if strings.HasSuffix(b.s, "…") {
			shortened++
		}
	}
	if shortened != 3 {
		t.Errorf("%d strings shortened with an ellipsis, want 3 (key, arm, note)", shortened)
	}
	// Overlaps are TestLabelsDoNotOverlap's business; run it on this one.
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			if a.x0 < b.x1-0.5 && b.x0 < a.x1-0.5 && a.y0 < b.y1-0.5 && b.y0 < a.y1-0.5 {
				t.Errorf("%q overlaps %q", a.s, b.s)
			}
		}
	}
}

func TestColumnsOnlyForGivenIntervals(t *testing.T) {
	f := Forest{Rows: []ForestRow{
		{Metric: "m", Arm: "a", Estimate: 0.01, Fixed: Interval{-0.01, 0.03}},
		{Metric: "m", Arm: "b", Estimate: 0.02},
	}}
	boxes, _ := texts(t, f)
	var drawn []string
	for _, b := range boxes {
		drawn = append(drawn, b.s)
	}
	all := "\n" + strings.Join(drawn, "\n") + "\n"
	for _, want := range []string{"\n95% CI\n", "\n95% CI, fixed horizon\n", "\n" + minus + "1.0 to +3.0\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among %q", want, drawn)
		}
	}
	for _, unwanted := range []string{"always-valid"} {
		if strings.Contains(all, unwanted) {
			t.Errorf("%q drawn without any sequential interval: %q", unwanted, drawn)
		}
	}
}

func TestInfiniteBoundsAreClipped(t *testing.T) {
	inf := math.Inf(1)
	f := Forest{Rows: []ForestRow{
		{Metric: "m", Arm: "few-units", Estimate: 0.3, Fixed: Interval{-2.5, 3.1}, Sequential: Interval{-inf, inf}},
		{Metric: "m", Arm: "many-units", Estimate: 0.01, Fixed: Interval{0.005, 0.015}, Sequential: Interval{0.001, 0.019}},
	}}
	fig, err := f.figure()
	if err != nil {
		t.Fatal(err)
	}
	ff := fig.(*forestFig)
	if !ff.clipped {
		t.Error("not marked as clipped")
	}
	// The default limit is ±100%: the axis stops there instead of at
	// ±310%, which would squeeze the other row to a dot.
	if ff.lo < -1.0001 || ff.hi > 1.0001 || ff.lo > -0.9 || ff.hi < 0.9 {
		t.Errorf("axis [%v, %v], want about [−1, +1]", ff.lo, ff.hi)
	}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, f); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, buf.Bytes())
	all := strings.Join(doc.Texts, "\n")
	for _, want := range []string{"continues beyond the axis", minus + "∞ to +∞", minus + "250.0 to +310.0"} {
		if !strings.Contains(all, want) {
			t.Errorf("no text %q", want)
		}
	}

	// An explicit Limit smaller than an estimate clips the estimate too.
	f.Limit = 0.1
	fig, err = f.figure()
	if err != nil {
		t.Fatal(err)
	}
	if ff := fig.(*forestFig); !ff.beyond(0.3) || ff.hi > 0.1001 {
		t.Errorf("axis [%v, %v] with Limit 0.1", ff.lo, ff.hi)
	}
	if err := WritePNG(io.Discard, f); err != nil {
		t.Fatal(err)
	}

	// A series whose early sequential bounds are infinite.
	s := series("m", "a", 0.05, 5, 0)
	s.Points[1].Sequential = Interval{-inf, 0.4}
	if err := WritePNG(io.Discard, s); err != nil {
		t.Fatal(err)
	}
}

func TestVerdicts(t *testing.T) {
	cases := []struct {
		row  ForestRow
		want Verdict
	}{
		{ForestRow{Estimate: 0.05, Sequential: Interval{0.01, 0.09}}, VerdictBetter},
		{ForestRow{Estimate: 0.05, Sequential: Interval{0.01, 0.09}, Direction: -1}, VerdictWorse},
		{ForestRow{Estimate: -0.05, Sequential: Interval{-0.09, -0.01}, Direction: -1}, VerdictBetter},
		{ForestRow{Estimate: 0.05, Sequential: Interval{-0.01, 0.11}, Fixed: Interval{0.01, 0.09}}, VerdictInconclusive},
		{ForestRow{Estimate: 0.05, Fixed: Interval{0.01, 0.09}}, VerdictBetter},
		{ForestRow{Estimate: 0.05}, VerdictInconclusive},
		{ForestRow{Estimate: -0.02, Verdict: VerdictSignificant}, VerdictWorse},
		{ForestRow{Estimate: -0.02, Verdict: VerdictSignificant, Direction: -1}, VerdictBetter},
		{ForestRow{Estimate: 0.05, Sequential: Interval{0.01, 0.09}, Verdict: VerdictRegressed}, VerdictRegressed},
		{ForestRow{Estimate: 0.05, Verdict: VerdictOK}, VerdictOK},
	}
	for i, tc := range cases {
		if got := tc.row.resolve(); got != tc.want {
			t.Errorf("case %d: %+v resolves to %q, want %q", i, tc.row, got, tc.want)
		}
	}
}

func TestInvalidData(t *testing.T) {
	nan := math.NaN()
	ok := ForestRow{Metric: "m", Arm: "a", Estimate: 0.01, Fixed: Interval{-0.01, 0.03}}
	row := func(edit func(*ForestRow)) Forest {
		r := ok
		edit(&r)
		return Forest{Rows: []ForestRow{ok, r}}
	}
	okSeries := series("m", "a", 0.01, 3, 0)
	ser := func(edit func(*Series)) Series {
		s := okSeries
		s.Points = append([]Point(nil), okSeries.Points...)
		edit(&s)
		return s
	}
	cases := []struct {
		name  string
		chart Chart
		want  string // in the message
	}{
		{"no rows", Forest{Title: "empty"}, `forest plot "empty" has no rows`},
		{"NaN estimate", row(func(r *ForestRow) { r.Estimate = nan }), "row 2 (m/a): estimate NaN"},
		{"infinite estimate", row(func(r *ForestRow) { r.Estimate = math.Inf(1) }), "estimate +Inf"},
		{"NaN bound", row(func(r *ForestRow) { r.Sequential = Interval{nan, 0.2} }), "sequential interval: NaN bound"},
		{"low above high", row(func(r *ForestRow) { r.Fixed = Interval{0.2, 0.1} }), "fixed interval: low bound 0.2 above high bound 0.1"},
		{"low +Inf", row(func(r *ForestRow) { r.Fixed = Interval{math.Inf(1), math.Inf(1)} }), "infinite the wrong way"},
		{"no metric", row(func(r *ForestRow) { r.Metric = "" }), "no metric"},
		{"no arm", row(func(r *ForestRow) { r.Arm = "" }), "no arm"},
		{"unknown verdict", row(func(r *ForestRow) { r.Verdict = "great" }), `unknown verdict "great"`},
		{"direction", row(func(r *ForestRow) { r.Direction = 2 }), "direction 2"},
		{"negative margin", row(func(r *ForestRow) { r.Margin = -0.01 }), "margin -0.01"},
		{"level", Forest{Rows: []ForestRow{ok}, Level: 95}, "level 95"},
		{"limit", Forest{Rows: []ForestRow{ok}, Limit: nan}, "limit NaN"},
		{"empty report", Report{Title: "r"}, `report "r" has neither`},
		{"report's forest", Report{Forest: row(func(r *ForestRow) { r.Estimate = nan })}, "estimate NaN"},
		{"no points", ser(func(s *Series) { s.Points = nil }), "no points"},
		{"NaN point", ser(func(s *Series) { s.Points[1].Estimate = nan }), "point 2 (2025-03-05T00:00:00Z): estimate NaN"},
		{"NaN band", ser(func(s *Series) { s.Points[2].Fixed = Interval{0, nan} }), "point 3 (2025-03-06T00:00:00Z): fixed interval: NaN bound"},
		{"same time", ser(func(s *Series) { s.Points[2].At = s.Points[0].At }), "two points at 2025-03-04T00:00:00Z"},
		{"no time", ser(func(s *Series) { s.Points[0].At = time.Time{} }), "point 1: no time"},
		{"levels differ", Report{Series: []Series{okSeries, ser(func(s *Series) { s.Level = 0.9 })}}, "level 0.9 differs from 0.95"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for name, write := range map[string]func(io.Writer, Chart) error{"svg": WriteSVG, "png": WritePNG} {
				var buf bytes.Buffer
				err := write(&buf, tc.chart)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s: err = %v, want ErrInvalid", name, err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: err = %q, want it to say %q", name, err, tc.want)
				}
				if buf.Len() != 0 {
					t.Errorf("%s: %d bytes written for invalid data", name, buf.Len())
				}
			}
			if _, _, err := Size(tc.chart); !errors.Is(err, ErrInvalid) {
				t.Errorf("Size: err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestWriteChoosesByExtension(t *testing.T) {
	dir := t.TempDir()
	f := forest3x3()
	f.Rows = f.Rows[:2]
	for _, name := range []string{"a.svg", "b.png", "C.SVG", "d.Png"} {
		path := filepath.Join(dir, name)
		if err := Write(path, f); err != nil {
			t.Fatalf("Write(%s): %v", name, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		isPNG := bytes.HasPrefix(data, []byte("\x89PNG"))
		if wantPNG := strings.EqualFold(filepath.Ext(name), ".png"); isPNG != wantPNG {
			t.Errorf("%s: PNG signature %v, want %v", name, isPNG, wantPNG)
		}
	}
	for _, name := range []string{"report.jpg", "report", "report.svg.txt"} {
		path := filepath.Join(dir, name)
		err := Write(path, f)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), ".svg or .png") {
			t.Errorf("Write(%s): err = %v, want ErrFormat saying .svg or .png", name, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Write(%s) created the file", name)
		}
	}
	bad := filepath.Join(dir, "bad.png")
	if err := Write(bad, Forest{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Write(empty forest): err = %v, want ErrInvalid", err)
	}
	if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
		t.Error("Write created a file for invalid data")
	}
	if err := Write(filepath.Join(dir, "no-such-dir", "x.svg"), f); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("Write into a missing directory: err = %v, want an I/O error", err)
	}
}

// TestWriteExamples writes every example as SVG and PNG, to a temporary
// directory and, when RAMP_CHART_OUT names a directory, there too, so that
// a person can look at them:
//
//	RAMP_CHART_OUT=/tmp/charts go test ./internal/chart/ -run WriteExamples
func TestWriteExamples(t *testing.T) {
	dirs := []string{t.TempDir()}
	if out := os.Getenv("RAMP_CHART_OUT"); out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, out)
	}
	for _, dir := range dirs {
		for _, ex := range examples() {
			for _, format := range []string{"svg", "png"} {
				path := filepath.Join(dir, ex.name+"."+format)
				if err := os.WriteFile(path, rendered(t, ex.name, format), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if len(dirs) > 1 {
		t.Logf("examples written to %s", dirs[1])
	}
}

// TestGolden pins the SVG of two charts, so that a change to the drawing
// shows in review as a diff of testdata/. After an intended change:
//
//	go test ./internal/chart/ -run Golden -update
func TestGolden(t *testing.T) {
	for _, ex := range examples() {
		if ex.name != "forest-3x3" && ex.name != "series" {
			continue
		}
		t.Run(ex.name, func(t *testing.T) {
			svg := rendered(t, ex.name, "svg")
			path := filepath.Join("testdata", ex.name+".golden.svg")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, svg, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (create it with -update)", err)
			}
			if !bytes.Equal(svg, want) {
				got := strings.Split(string(svg), "\n")
				exp := strings.Split(string(want), "\n")
				for i := 0; i < len(got) && i < len(exp); i++ {
					if got[i] != exp[i] {
						t.Fatalf("SVG differs from %s at line %d:\n got: %s\nwant: %s\n(after an intended change: go test ./internal/chart/ -run Golden -update)", path, i+1, got[i], exp[i])
					}
				}
				t.Fatalf("SVG differs from %s in length: %d lines, want %d", path, len(got), len(exp))
			}
		})
	}
}

// TestRendersOffline checks that nothing the package imports can reach
// the network or start a program (a browser, a font tool).
func TestRendersOffline(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "net" || strings.HasPrefix(pkg, "net/") || pkg == "os/exec" || pkg == "plugin" {
			t.Errorf("internal/chart depends on %s", pkg)
		}
	}
}
