package chart

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Width is the width of every chart: pixels in a PNG, user units (CSS
// pixels) in an SVG. The height grows with the content; Size tells it.
const Width = 900

// The failures of this package, to match with errors.Is. Every error the
// package returns wraps one of them with what was wrong.
var (
	// ErrInvalid is data that cannot be drawn: no rows, a NaN, an
	// interval whose low bound is above its high bound, an unknown
	// verdict. Nothing was written.
	ErrInvalid = errors.New("chart: invalid data")
	// ErrFormat is a file name whose extension names no format Write
	// knows (.svg and .png). Nothing was written.
	ErrFormat = errors.New("chart: unknown image format")
)

// Interval is a confidence interval (or an always-valid confidence
// sequence at one moment) for a relative difference, as fractions like
// the estimate. A bound may be infinite (a sequential interval over few
// units): the chart clips it at the axis and marks the clipped end. The
// zero Interval means "not given" and is not drawn.
type Interval struct{ Low, High float64 }

// given reports whether the interval was set (the zero value was not).
// An interval holding a NaN counts as given, so that validation sees it.
func (iv Interval) given() bool { return iv != Interval{} }

// check validates a given interval.
func (iv Interval) check() error {
	switch {
	case math.IsNaN(iv.Low) || math.IsNaN(iv.High):
		return fmt.Errorf("NaN bound [%v, %v]", iv.Low, iv.High)
	case math.IsInf(iv.Low, +1) || math.IsInf(iv.High, -1):
		return fmt.Errorf("bound infinite the wrong way [%v, %v]", iv.Low, iv.High)
	case iv.Low > iv.High:
		return fmt.Errorf("low bound %v above high bound %v", iv.Low, iv.High)
	}
	return nil
}

// A Chart is what this package draws: a *Forest, a *Series or a *Report
// (values work too). The interface is sealed; build one of those types.
type Chart interface {
	// figure validates the chart and measures its layout.
	figure() (figure, error)
}

// figure is a validated, measured chart, ready to draw at Width.
type figure interface {
	// height is the figure's height in points (pixels), a whole number.
	height() vg.Length
	// draw draws the figure in c, whose rectangle is Width × height.
	draw(c draw.Canvas)
	// title is the text of the SVG <title> element.
	title() string
}

// Size returns the width and height in pixels the chart will have, or the
// reason it cannot be drawn (wrapping ErrInvalid).
func Size(c Chart) (width, height int, err error) {
	f, err := c.figure()
	if err != nil {
		return 0, 0, err
	}
	return Width, int(f.height()), nil
}

// WriteSVG writes the chart to w as a standalone SVG document: a white
// background (readable on a dark page too), a <title> element, text in
// Liberation Sans with the metric-compatible Arial and Helvetica as
// fallbacks (no font is embedded or fetched), 1 user unit = 1 CSS pixel.
// Nothing is written when the data is invalid.
func WriteSVG(w io.Writer, c Chart) error {
	f, err := c.figure()
	if err != nil {
		return err
	}
	cv := vgsvg.New(Width, f.height())
	if err := paint(f, draw.New(cv)); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return fmt.Errorf("chart: encode SVG: %w", err)
	}
	out, err := finishSVG(buf.Bytes(), f)
	if err != nil {
		return err
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("chart: write SVG: %w", err)
	}
	return nil
}

// WritePNG writes the chart to w as a PNG image Width pixels wide on a
// white background. Nothing is written when the data is invalid.
func WritePNG(w io.Writer, c Chart) error {
	f, err := c.figure()
	if err != nil {
		return err
	}
	// At 72 dots per inch one point is one pixel, so the layout's sizes
	// (in points) are the image's pixels.
	cv := vgimg.NewWith(vgimg.UseWH(Width, f.height()), vgimg.UseDPI(72),
		vgimg.UseBackgroundColor(color.White))
	if err := paint(f, draw.New(cv)); err != nil {
		return err
	}
	// Encode to memory first, so that a failed render writes nothing.
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: pngLevel}
	if err := enc.Encode(&buf, cv.Image()); err != nil {
		return fmt.Errorf("chart: encode PNG: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("chart: write PNG: %w", err)
	}
	return nil
}

// Write writes the chart to the file at path, as SVG or PNG by the
// path's extension (.svg, .png, any case). An unknown extension is an
// error wrapping ErrFormat; invalid data wraps ErrInvalid. The file is
// created only when the chart could be drawn.
func Write(path string, c Chart) error {
	var write func(io.Writer, Chart) error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg":
		write = WriteSVG
	case ".png":
		write = WritePNG
	default:
		return fmt.Errorf("%w: %q: the file name must end in .svg or .png", ErrFormat, path)
	}
	var buf bytes.Buffer
	if err := write(&buf, c); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// pngLevel trades size for speed: compared with the default, a report
// encodes in less time for 3% more bytes (BenchmarkReportPNG).
const pngLevel = png.BestSpeed

// paint fills the background and draws the figure. gonum/plot reports
// some failures by panicking; they come back as errors here so that a
// chart never takes the program down.
func paint(f figure, c draw.Canvas) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chart: drawing failed: %v", r)
		}
	}()
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	f.draw(c)
	return nil
}

// finishSVG turns vgsvg's output into the document WriteSVG promises:
// pixel sizes, a <title>, and font fallbacks.
func finishSVG(doc []byte, f figure) ([]byte, error) {
	s := string(doc)
	// vgsvg sizes the document in points and its contents in user units
	// equal to points; dropping the unit makes a user unit a CSS pixel,
	// the same size as a pixel of the PNG.
	h := int(f.height())
	oldSize := fmt.Sprintf(`width="%dpt" height="%dpt"`, Width, h)
	if !strings.Contains(s, oldSize) {
		return nil, fmt.Errorf("chart: unexpected SVG header (gonum/plot changed?)")
	}
	s = strings.Replace(s, oldSize, fmt.Sprintf(`width="%d" height="%d" role="img"`, Width, h), 1)
	// The title goes first inside <svg>, where assistive technology and
	// browsers (as a tooltip) look for it.
	open := strings.Index(s, "<svg ")
	end := strings.Index(s[open:], ">")
	at := open + end + 1
	s = s[:at] + "\n<title>" + html.EscapeString(f.title()) + "</title>" + s[at:]
	// Liberation Sans is metric-compatible with Arial and Helvetica, so
	// text measured for it fits in either where Liberation is missing.
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	// Any other fallback (DejaVu Sans is wider) is held to the measured
	// width by textLength, so that no label runs into the next.
	var err error
	s = svgText.ReplaceAllStringFunc(s, func(el string) string {
		m := svgText.FindStringSubmatch(el)
		size, perr := strconv.ParseFloat(m[3], 64)
		if perr != nil {
			err = fmt.Errorf("chart: unexpected SVG text style %q", m[2])
			return el
		}
		f := sansRegular
		if m[2] == "bold" {
			f = sansBold
		}
		face := fonts.Lookup(f, vg.Length(size))
		w := face.Width(html.UnescapeString(m[4]))
		return m[1] + ` textLength="` + strconv.FormatFloat(float64(w), 'f', 2, 64) + `" lengthAdjust="spacingAndGlyphs"` + el[len(m[1]):]
	})
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// svgText matches a <text> element as vgsvg writes it: the part before
// its style, the font weight and size, the text.
var svgText = regexp.MustCompile(`(<text x="[^"]*" y="[^"]*" transform="scale\(1, -1\)")\s+style="[^"]*font-weight:(normal|bold);[^"]*font-size:([0-9.]+)px;[^"]*">([^<]*)</text>`)

// The fonts: gonum/plot's embedded Liberation Sans in a cache of this
// package's own, so that nothing another package adds to font.DefaultCache
// changes the charts and no system font is ever looked up.
var fonts = font.NewCache(liberation.Collection())

var (
	sansRegular = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold    = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

// The colours: Okabe and Ito's palette for colour-blind readers ("Color
// Universal Design", 2008), greys for everything that is not data. Text
// greys keep at least 7:1 contrast on white.
var (
	colBlue       = color.RGBA{0x00, 0x72, 0xB2, 0xFF} // better; the estimate over time
	colVermillion = color.RGBA{0xD5, 0x5E, 0x00, 0xFF} // worse, regressed, a guardrail margin
	colGreen      = color.RGBA{0x00, 0x9E, 0x73, 0xFF} // guardrail ok
	colNeutral    = color.RGBA{0x5F, 0x5F, 0x5F, 0xFF} // inconclusive
	colText       = color.RGBA{0x1F, 0x1F, 0x1F, 0xFF}
	colTextSoft   = color.RGBA{0x50, 0x50, 0x50, 0xFF}
	colAxis       = color.RGBA{0x8C, 0x8C, 0x8C, 0xFF}
	colGrid       = color.RGBA{0xE2, 0xE2, 0xE2, 0xFF}
	colZero       = color.RGBA{0x40, 0x40, 0x40, 0xFF}
	colStripe     = color.RGBA{0xF3, 0xF4, 0xF6, 0xFF}
)

// tint mixes c with white: share 0 is white, 1 is c. Opaque tints look
// the same in SVG and PNG and do not darken where shapes overlap.
func tint(c color.RGBA, share float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(math.Round(255 - (255-float64(v))*share)) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xFF}
}

// The text sizes, in pixels.
const (
	sizeTitle   = 17
	sizeHeading = 14
	sizeLabel   = 12
	sizeSmall   = 11
)

// style returns a text style of the package's font.
func style(size vg.Length, bold bool, clr color.Color) text.Style {
	f := sansRegular
	if bold {
		f = sansBold
	}
	return text.Style{
		Color:   clr,
		Font:    font.From(f, size),
		XAlign:  draw.XLeft,
		YAlign:  draw.YCenter,
		Handler: text.Plain{Fonts: fonts},
	}
}

// aligned returns sty with the given alignment.
func aligned(sty text.Style, x text.XAlignment, y text.YAlignment) text.Style {
	sty.XAlign, sty.YAlign = x, y
	return sty
}

// fit returns s, shortened with an ellipsis when it is wider than max in
// the style, so that long metric keys never run into their neighbours.
func fit(sty text.Style, s string, max vg.Length) string {
	if sty.Width(s) <= max {
		return s
	}
	r := []rune(s)
	lo, hi := 0, len(r) // the longest prefix that fits is r[:lo]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if sty.Width(string(r[:mid])+"…") <= max {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(r[:lo]) + "…"
}

// whole rounds a length up to a whole number of pixels, so that SVG and
// PNG have the same size.
func whole(l vg.Length) vg.Length { return vg.Length(math.Ceil(float64(l))) }
