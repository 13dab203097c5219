package chart

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one arm's relative lift on one metric over time: what the
// report said at each moment, with the always-valid confidence sequence
// as a shaded band and, optionally, the fixed-horizon interval as a
// darker band inside it.
//
// Drawn alone, a Series is one panel. In a Report, the series make small
// multiples: a row of panels per metric (in the order each metric first
// appears), one panel per arm (at most three side by side, then another
// row); panels of one metric share their vertical axis, all panels share
// the time axis, so arms compare at a glance without their bands piling
// up on one another.
type Series struct {
	// Title is drawn above the chart when the series is drawn alone; in a
	// Report it replaces the arm's name above the panel. Empty: "metric ·
	// arm" alone, the arm's name in a report.
	Title string
	// Metric is the metric's key, Arm the treatment arm's name.
	Metric, Arm string
	// Points are the estimates, in any order; no two at the same time.
	Points []Point
	// Level is the confidence level of the intervals, for the legend: 0
	// means 0.95.
	Level float64
}

// Point is the estimate of a relative lift at one moment, as fractions
// (0.05 is +5%), with the intervals the report gave then.
type Point struct {
	// At is when the data was cut off (the as-of time of the estimate).
	At time.Time
	// Estimate is the relative difference treatment/control − 1.
	Estimate float64
	// Sequential is the always-valid confidence sequence at At, drawn as
	// the light band; Fixed the fixed-horizon interval, the darker band.
	// Either may be the zero Interval (a gap in its band). Infinite
	// bounds and bounds of the earlier half of the points run off the
	// panel's edge: the vertical axis covers every estimate and the
	// intervals of the later half, where they have narrowed.
	Sequential, Fixed Interval
}

// figure validates the series and lays it out at Width as one panel.
func (s Series) figure() (figure, error) {
	heading := s.Title
	if heading == "" {
		heading = s.Metric + " · " + s.Arm
	}
	s.Title = "" // the heading says it; the panel needs no title of its own
	return newSeriesFig(heading, sizeTitle, []Series{s}, false)
}

// check validates a series and returns a copy of its points sorted by time.
func (s *Series) check() ([]Point, error) {
	switch {
	case s.Metric == "":
		return nil, fmt.Errorf("no metric")
	case s.Arm == "":
		return nil, fmt.Errorf("no arm")
	case len(s.Points) == 0:
		return nil, fmt.Errorf("no points")
	case math.IsNaN(s.Level) || s.Level < 0 || s.Level >= 1:
		return nil, fmt.Errorf("level %v is not in (0, 1)", s.Level)
	}
	pts := slices.Clone(s.Points)
	for i, p := range pts {
		switch {
		case p.At.IsZero():
			return nil, fmt.Errorf("point %d: no time", i+1)
		case math.IsNaN(p.Estimate) || math.IsInf(p.Estimate, 0):
			return nil, fmt.Errorf("point %d (%s): estimate %v is not a finite number", i+1, p.At.UTC().Format(time.RFC3339), p.Estimate)
		}
		for _, iv := range []struct {
			name string
			iv   Interval
		}{{"sequential", p.Sequential}, {"fixed", p.Fixed}} {
			if iv.iv.given() {
				if err := iv.iv.check(); err != nil {
					return nil, fmt.Errorf("point %d (%s): %s interval: %w", i+1, p.At.UTC().Format(time.RFC3339), iv.name, err)
				}
			}
		}
	}
	slices.SortStableFunc(pts, func(a, b Point) int { return a.At.Compare(b.At) })
	for i := 1; i < len(pts); i++ {
		if pts[i].At.Equal(pts[i-1].At) {
			return nil, fmt.Errorf("two points at %s", pts[i].At.UTC().Format(time.RFC3339))
		}
	}
	return pts, nil
}

// seriesFig is validated series laid out as small multiples.
type seriesFig struct {
	heading string
	headSty text.Style
	blocks  []seriesBlock // one per metric
	cols    int
	tileW   vg.Length
	panelH  vg.Length // a panel's plot: axes and data
	xlo     float64   // the shared time axis, Unix seconds
	xhi     float64
	level   float64
	hasFix  bool
	legend  legend
	h       vg.Length
}

// seriesBlock is one metric's panels and their shared vertical axis.
type seriesBlock struct {
	metric  string
	titled  bool // draws the metric's key above its panels
	panels  []seriesPanel
	ylo     float64
	yhi     float64
	step    float64
	decimal int
}

type seriesPanel struct {
	title  string
	points []Point
}

// Vertical layout of the time series, in pixels.
const (
	metricHeadH = 26  // a metric's key above its panels
	panelHeadH  = 18  // an arm's name above its panel
	panelH      = 170 // a panel's plot (axes and data) among others
	panelAloneH = 260 // the plot of a series drawn alone
	panelGapY   = 10  // between rows of panels
	panelGapX   = 20  // between panels side by side
	maxCols     = 3
)

// newSeriesFig validates the series and computes their layout. titled
// says whether each metric's key and each arm's name are drawn (a
// report); a series alone has its heading only.
func newSeriesFig(heading string, headSize vg.Length, series []Series, titled bool) (*seriesFig, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("%w: no series", ErrInvalid)
	}
	fig := &seriesFig{heading: heading, headSty: style(headSize, true, colText), xlo: math.Inf(1), xhi: math.Inf(-1), panelH: panelH}
	if len(series) == 1 && !titled {
		fig.panelH = panelAloneH
	}
	index := map[string]int{}
	for i := range series {
		s := &series[i]
		pts, err := s.check()
		if err != nil {
			return nil, fmt.Errorf("%w: series %d (%s/%s): %v", ErrInvalid, i+1, s.Metric, s.Arm, err)
		}
		level := s.Level
		if level == 0 {
			level = 0.95
		}
		if fig.level != 0 && fig.level != level {
			return nil, fmt.Errorf("%w: series %d (%s/%s): level %v differs from %v of the series before", ErrInvalid, i+1, s.Metric, s.Arm, level, fig.level)
		}
		fig.level = level
		b, ok := index[s.Metric]
		if !ok {
			b = len(fig.blocks)
			index[s.Metric] = b
			fig.blocks = append(fig.blocks, seriesBlock{metric: s.Metric, titled: titled})
		}
		title := s.Title
		if title == "" && titled {
			title = s.Arm
		}
		fig.blocks[b].panels = append(fig.blocks[b].panels, seriesPanel{title: title, points: pts})
		fig.xlo = math.Min(fig.xlo, unix(pts[0].At))
		fig.xhi = math.Max(fig.xhi, unix(pts[len(pts)-1].At))
		for _, p := range pts {
			fig.hasFix = fig.hasFix || p.Fixed.given()
		}
	}
	if fig.xhi-fig.xlo < 3600 {
		mid := (fig.xlo + fig.xhi) / 2
		fig.xlo, fig.xhi = mid-12*3600, mid+12*3600
	}
	for _, b := range fig.blocks {
		fig.cols = max(fig.cols, min(len(b.panels), maxCols))
	}
	fig.tileW = (contentW - vg.Length(fig.cols-1)*panelGapX) / vg.Length(fig.cols)
	for i := range fig.blocks {
		fig.blocks[i].scale()
	}
	fig.legend = newLegend(fig.legendItems(), contentW)

	h := vg.Length(pad)
	if fig.heading != "" {
		h += fig.headSty.Height(fig.heading) + headingGap
	}
	for _, b := range fig.blocks {
		h += b.height(fig.cols, fig.panelH)
	}
	h += legendGap + fig.legend.height() + pad
	fig.h = whole(h)
	return fig, nil
}

// unix is a time as the plots' x coordinate: seconds since 1970 UTC.
func unix(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// rows is how many rows of panels a metric takes.
func (b *seriesBlock) rows(cols int) int { return (len(b.panels) + cols - 1) / cols }

// height is a metric's block height.
func (b *seriesBlock) height(cols int, panelH vg.Length) vg.Length {
	h := vg.Length(b.rows(cols)) * (panelH + panelGapY)
	if b.titled {
		h += metricHeadH + vg.Length(b.rows(cols))*panelHeadH
	}
	return h
}

// scale chooses a metric's vertical axis: every estimate, and the bounds
// of the later half of each series' points, and zero.
func (b *seriesBlock) scale() {
	lo, hi := 0.0, 0.0
	see := func(v float64) {
		if !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, p := range b.panels {
		for i, pt := range p.points {
			see(pt.Estimate)
			if i >= len(p.points)/2 {
				for _, iv := range []Interval{pt.Sequential, pt.Fixed} {
					if iv.given() {
						see(iv.Low)
						see(iv.High)
					}
				}
			}
		}
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.01, hi+0.01
	}
	span := hi - lo
	lo, hi = lo-0.04*span, hi+0.04*span
	step := niceStep((hi - lo) / 4)
	b.ylo = math.Floor(lo/step+1e-9) * step
	b.yhi = math.Ceil(hi/step-1e-9) * step
	b.step = step
	b.decimal = decimalsFor(step)
}

func (fig *seriesFig) height() vg.Length { return fig.h }

func (fig *seriesFig) title() string {
	if fig.heading != "" {
		return fig.heading
	}
	return "Relative lift over time"
}

// The colours of the time series.
var (
	colSeqBand   = tint(colBlue, 0.16)
	colFixedBand = tint(colBlue, 0.38)
)

func (fig *seriesFig) legendItems() []legendItem {
	lv := levelText(fig.level)
	items := []legendItem{
		{sampleW: 22, text: "estimate", sample: func(c draw.Canvas, x, y vg.Length) {
			stroke(c, colBlue, 2, nil, vg.Point{X: x, Y: y}, vg.Point{X: x + 22, Y: y})
		}},
		{sampleW: 22, text: lv + " always-valid (confidence sequence)", sample: func(c draw.Canvas, x, y vg.Length) {
			fillRect(c, x, y-6, x+22, y+6, colSeqBand)
		}},
	}
	if fig.hasFix {
		items = append(items, legendItem{sampleW: 22, text: lv + " CI, fixed horizon", sample: func(c draw.Canvas, x, y vg.Length) {
			fillRect(c, x, y-6, x+22, y+6, colFixedBand)
		}})
	}
	items = append(items, legendItem{sampleW: 0, text: "dates in UTC", sample: func(draw.Canvas, vg.Length, vg.Length) {}})
	return items
}

// draw draws the small multiples in c, top down.
func (fig *seriesFig) draw(c draw.Canvas) {
	left := c.Min.X
	y := c.Max.Y - pad
	if fig.heading != "" {
		sty := aligned(fig.headSty, draw.XLeft, draw.YTop)
		label(c, sty, left+pad, y, fit(sty, fig.heading, contentW))
		y -= fig.headSty.Height(fig.heading) + headingGap
	}

	// Lay every panel out first, so that all data areas can start at the
	// same distance from their tile's left edge whatever the width of
	// their tick labels.
	type placed struct {
		p     *plot.Plot
		tile  draw.Canvas
		title string
		ty    vg.Length // the title's baseline centre
	}
	var all []placed
	var inset vg.Length
	metricSty := style(sizeLabel+1, true, colText)
	armSty := style(sizeLabel, false, colText)
	for bi := range fig.blocks {
		b := &fig.blocks[bi]
		if b.titled {
			label(c, metricSty, left+pad, y-metricHeadH/2, fit(metricSty, b.metric, contentW))
			y -= metricHeadH
		}
		for i, pn := range b.panels {
			col := i % fig.cols
			if col == 0 && i > 0 {
				y -= fig.panelH + panelGapY
				if b.titled {
					y -= panelHeadH
				}
			}
			top := y
			var ty vg.Length
			if b.titled {
				ty = top - panelHeadH/2
				top -= panelHeadH
			}
			x0 := left + pad + vg.Length(col)*(fig.tileW+panelGapX)
			tile := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x0, Y: top - fig.panelH},
				Max: vg.Point{X: x0 + fig.tileW, Y: top},
			}}
			p := fig.panelPlot(b, pn)
			inset = max(inset, p.DataCanvas(tile).Min.X-tile.Min.X)
			all = append(all, placed{p: p, tile: tile, title: pn.title, ty: ty})
		}
		y -= fig.panelH + panelGapY
		if b.titled {
			y -= panelHeadH
		}
	}
	for _, pl := range all {
		tile := pl.tile
		if pl.title != "" {
			label(c, armSty, tile.Min.X+inset, pl.ty, fit(armSty, pl.title, fig.tileW-inset))
		}
		tile.Min.X += inset - (pl.p.DataCanvas(tile).Min.X - tile.Min.X)
		pl.p.Draw(tile)
	}
	fig.legend.draw(c, left+pad, y-legendGap+panelGapY)
}

// panelPlot builds one panel's plot.
func (fig *seriesFig) panelPlot(b *seriesBlock, pn seriesPanel) *plot.Plot {
	p := plot.New()
	p.BackgroundColor = nil
	p.TextHandler = text.Plain{Fonts: fonts}
	tickSty := style(sizeSmall, false, colTextSoft)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.LineStyle = draw.LineStyle{Color: colAxis, Width: 1}
		ax.Tick.LineStyle = draw.LineStyle{Color: colAxis, Width: 1}
		ax.Tick.Length = 4
		ax.Tick.Label = tickSty
		ax.Label.TextStyle = style(sizeSmall, false, colTextSoft)
		ax.Padding = 4
	}
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Title.TextStyle = style(sizeLabel, false, colText)
	p.Legend.TextStyle = style(sizeSmall, false, colTextSoft)

	p.X.Min, p.X.Max = fig.xlo, fig.xhi
	p.Y.Min, p.Y.Max = b.ylo, b.yhi
	dataW := fig.tileW - 60
	p.X.Tick.Marker = timeTicker{maxTicks: max(2, int(dataW/72))}
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ts []plot.Tick
		for _, v := range ticksIn(lo, hi, b.step) {
			ts = append(ts, plot.Tick{Value: v, Label: percent(v, b.decimal) + "%"})
		}
		return ts
	})

	grid := plotter.NewGrid()
	grid.Vertical = draw.LineStyle{Color: colGrid, Width: 1}
	grid.Horizontal = draw.LineStyle{Color: colGrid, Width: 1}
	p.Add(grid)
	p.Add(band{points: pn.points, pick: func(p Point) Interval { return p.Sequential }, colour: colSeqBand})
	p.Add(band{points: pn.points, pick: func(p Point) Interval { return p.Fixed }, colour: colFixedBand})
	p.Add(zeroLine{})
	p.Add(estimateLine{points: pn.points})
	return p
}

// band fills the area between an interval's bounds over time, one polygon
// per run of points that have the interval, clipped to the panel.
type band struct {
	points []Point
	pick   func(Point) Interval
	colour color.Color
}

func (b band) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	// Bounds beyond the axis (infinite ones too) are pulled in to just
	// outside it before clipping, where the polygon's edge is cut.
	span := p.Y.Max - p.Y.Min
	clamp := func(v float64) vg.Length {
		return trY(math.Max(p.Y.Min-span, math.Min(p.Y.Max+span, v)))
	}
	var run []Point
	flush := func() {
		if len(run) == 0 {
			return
		}
		var pts []vg.Point
		if len(run) == 1 { // a lone point: a narrow bar
			x := trX(unix(run[0].At))
			iv := b.pick(run[0])
			pts = []vg.Point{{X: x - 1.5, Y: clamp(iv.Low)}, {X: x + 1.5, Y: clamp(iv.Low)}, {X: x + 1.5, Y: clamp(iv.High)}, {X: x - 1.5, Y: clamp(iv.High)}}
		} else {
			for _, pt := range run {
				pts = append(pts, vg.Point{X: trX(unix(pt.At)), Y: clamp(b.pick(pt).High)})
			}
			for i := len(run) - 1; i >= 0; i-- {
				pts = append(pts, vg.Point{X: trX(unix(run[i].At)), Y: clamp(b.pick(run[i]).Low)})
			}
		}
		c.FillPolygon(b.colour, c.ClipPolygonXY(pts))
		run = run[:0]
	}
	for _, pt := range b.points {
		if b.pick(pt).given() {
			run = append(run, pt)
		} else {
			flush()
		}
	}
	flush()
}

// zeroLine marks "no difference".
type zeroLine struct{}

func (zeroLine) Plot(c draw.Canvas, p *plot.Plot) {
	if p.Y.Min > 0 || p.Y.Max < 0 {
		return
	}
	_, trY := p.Transforms(&c)
	stroke(c, colZero, 1.2, nil, vg.Point{X: c.Min.X, Y: trY(0)}, vg.Point{X: c.Max.X, Y: trY(0)})
}

// estimateLine is the estimate over time, with a dot per point when they
// are few enough to tell apart.
type estimateLine struct{ points []Point }

func (l estimateLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	pts := make([]vg.Point, len(l.points))
	for i, pt := range l.points {
		pts[i] = vg.Point{X: trX(unix(pt.At)), Y: trY(pt.Estimate)}
	}
	c.StrokeLines(draw.LineStyle{Color: colBlue, Width: 2}, c.ClipLinesXY(pts)...)
	if len(pts) <= 60 {
		for _, pt := range pts {
			if c.Contains(pt) {
				marker(c, shapeCircle, pt, 2.6, colBlue)
			}
		}
	}
}

// timeTicker labels a time axis with whole hours, days or weeks (UTC),
// as many as fit.
type timeTicker struct{ maxTicks int }

var tickSteps = []float64{
	60, 5 * 60, 15 * 60, 30 * 60,
	3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
	86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 56 * 86400, 91 * 86400, 182 * 86400, 364 * 86400,
}

func (t timeTicker) Ticks(lo, hi float64) []plot.Tick {
	for _, step := range tickSteps {
		// Weeks start on Mondays: 1970-01-05 was one.
		offset := 0.0
		if step >= 7*86400 {
			offset = 4 * 86400
		}
		first := math.Ceil((lo - offset) / step)
		last := math.Floor((hi - offset) / step)
		if int(last-first)+1 > t.maxTicks {
			continue
		}
		var ticks []plot.Tick
		for k := first; k <= last; k++ {
			v := offset + k*step
			at := time.Unix(int64(v), 0).UTC()
			format := "Jan 2"
			if step < 86400 && (at.Hour() != 0 || at.Minute() != 0) {
				format = "15:04"
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: at.Format(format)})
		}
		return ticks
	}
	return nil
}
