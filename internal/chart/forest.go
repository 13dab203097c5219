package chart

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Forest is a forest plot: one row per metric and arm with the arm's
// relative lift over control and its two intervals, rows grouped under
// their metric. Draw it alone or as part of a Report.
type Forest struct {
	// Title is drawn above the plot; it may be empty.
	Title string
	// Rows are drawn top to bottom, grouped by Metric in the order each
	// metric first appears.
	Rows []ForestRow
	// Level is the confidence level of both intervals, for the legend and
	// the column headers: 0 means 0.95.
	Level float64
	// Limit clips the axis at ±Limit (a fraction: 1 is ±100%); bounds
	// beyond it end in an arrow and the printed numbers keep the true
	// values. 0 means the larger of 1 and 1.5 times the largest
	// |Estimate|, so an estimate is never clipped by default.
	Limit float64
}

// ForestRow is one arm's result on one metric, all as fractions of the
// control's value (0.05 is +5%).
type ForestRow struct {
	// Metric is the metric's key, Arm the treatment arm's name.
	Metric, Arm string
	// Estimate is the relative difference treatment/control − 1.
	Estimate float64
	// Fixed is the fixed-horizon confidence interval, drawn as a thick
	// bar; Sequential the always-valid confidence sequence, drawn as a
	// thin line (usually wider). Either may be the zero Interval (not
	// drawn); a bound may be infinite (clipped, with an arrow).
	Fixed, Sequential Interval
	// Verdict chooses the marker's colour and shape. Empty: derived from
	// the Sequential interval (the Fixed one if Sequential is not given)
	// and Direction — better or worse when it excludes zero, else
	// inconclusive.
	Verdict Verdict
	// Direction is +1 (or 0) when an increase is good, −1 when a
	// decrease is: it says whether a significant change is better or
	// worse, and on which side the Margin is drawn.
	Direction int
	// Margin, for a guardrail, is the non-inferiority margin as a positive
	// fraction (0.005 for 0.5%): a dashed mark at the worst acceptable
	// lift, −Margin (or +Margin when Direction is −1). 0: none.
	Margin float64
	// Note is printed at the row's right end: a p-value, "CUPED", a
	// warning. It is shortened when it does not fit.
	Note string
}

// Verdict is what a row's result means for the product, as the report
// judged it. The forest plot gives each verdict its own colour and marker.
type Verdict string

// The verdicts a ForestRow may carry.
const (
	// VerdictNone lets the chart derive the verdict from the intervals.
	VerdictNone Verdict = ""
	// VerdictBetter is a significant change in the good direction: a blue
	// filled circle.
	VerdictBetter Verdict = "better"
	// VerdictWorse is a significant change in the bad direction: a
	// vermillion square.
	VerdictWorse Verdict = "worse"
	// VerdictSignificant is a significant change the chart turns into
	// better or worse by the estimate's sign and the row's Direction.
	VerdictSignificant Verdict = "significant"
	// VerdictInconclusive is no significant change: a grey ring.
	VerdictInconclusive Verdict = "inconclusive"
	// VerdictOK is a guardrail shown not to be worse than its margin: a
	// green diamond.
	VerdictOK Verdict = "ok"
	// VerdictRegressed is a guardrail worse than its margin with
	// confidence: a vermillion square, like VerdictWorse.
	VerdictRegressed Verdict = "regressed"
)

// look is how a verdict is drawn.
type look struct {
	shape  shape
	colour color.RGBA
	legend string
}

var looks = map[Verdict]look{
	VerdictBetter:       {shapeCircle, colBlue, "better (significant)"},
	VerdictWorse:        {shapeSquare, colVermillion, "worse (significant)"},
	VerdictOK:           {shapeDiamond, colGreen, "guardrail ok"},
	VerdictRegressed:    {shapeSquare, colVermillion, "guardrail regressed"},
	VerdictInconclusive: {shapeRing, colNeutral, "inconclusive"},
}

// figure validates the forest and lays it out at Width.
func (f Forest) figure() (figure, error) { return newForestFig(&f, sizeTitle) }

// resolve returns the verdict a row is drawn with.
func (r *ForestRow) resolve() Verdict {
	dir := 1.0
	if r.Direction < 0 {
		dir = -1
	}
	signed := func(sign float64) Verdict {
		if sign*dir > 0 {
			return VerdictBetter
		}
		return VerdictWorse
	}
	switch r.Verdict {
	case VerdictSignificant:
		if r.Estimate == 0 {
			return VerdictInconclusive
		}
		return signed(r.Estimate)
	case VerdictNone:
		iv := r.Sequential
		if !iv.given() {
			iv = r.Fixed
		}
		switch {
		case !iv.given():
			return VerdictInconclusive
		case iv.Low > 0:
			return signed(+1)
		case iv.High < 0:
			return signed(-1)
		}
		return VerdictInconclusive
	}
	return r.Verdict
}

// check validates one row.
func (r *ForestRow) check() error {
	switch {
	case r.Metric == "":
		return fmt.Errorf("no metric")
	case r.Arm == "":
		return fmt.Errorf("no arm")
	case math.IsNaN(r.Estimate) || math.IsInf(r.Estimate, 0):
		return fmt.Errorf("estimate %v is not a finite number", r.Estimate)
	case r.Direction < -1 || r.Direction > 1:
		return fmt.Errorf("direction %d is not -1, 0 or +1", r.Direction)
	case math.IsNaN(r.Margin) || math.IsInf(r.Margin, 0) || r.Margin < 0:
		return fmt.Errorf("margin %v is not a finite fraction ≥ 0", r.Margin)
	}
	if _, ok := looks[r.Verdict]; !ok && r.Verdict != VerdictNone && r.Verdict != VerdictSignificant {
		return fmt.Errorf("unknown verdict %q (want better, worse, significant, inconclusive, ok, regressed or empty)", string(r.Verdict))
	}
	if r.Fixed.given() {
		if err := r.Fixed.check(); err != nil {
			return fmt.Errorf("fixed interval: %w", err)
		}
	}
	if r.Sequential.given() {
		if err := r.Sequential.check(); err != nil {
			return fmt.Errorf("sequential interval: %w", err)
		}
	}
	return nil
}

// forestFig is a validated forest plot with its layout.
type forestFig struct {
	heading  string
	headSty  text.Style
	groups   []forestGroup
	level    float64
	lo, hi   float64   // the axis range
	ticks    []float64 // labelled ticks
	tickDec  int       // decimals of the tick labels
	valueDec int       // decimals of the numbers beside the rows
	legend   legend
	clipped  bool // some bound is beyond the axis

	// Horizontal layout: the label column, the plot, the numbers.
	labelX, armX, plotX0, plotX1 vg.Length
	armHead                      string    // above the labels when rows carry no arm
	estX1, fixedX, seqX, noteX   vg.Length // estX1: right edge of the estimates
	hasFixed, hasSeq             bool      // some row has that interval
	noteW                        vg.Length
	h                            vg.Length
}

// forestGroup is one metric's rows. With header set, the metric's key has
// a row of its own and the arms are indented under it; without, its one
// row is labelled with the key (every metric has a single arm, the same).
type forestGroup struct {
	metric string
	header bool
	rows   []ForestRow
}

// lines is how many rows the group takes.
func (g *forestGroup) lines() int {
	if g.header {
		return 1 + len(g.rows)
	}
	return len(g.rows)
}

// Vertical layout of the forest plot, in pixels.
const (
	pad        = 16 // around every chart
	rowH       = 24 // a metric's header row and each arm's row
	colHeadH   = 20 // the column headers above the rows
	axisH      = 48 // ticks, tick labels and the axis label below the rows
	headingGap = 10 // below a title
	legendGap  = 8  // above a legend
	indent     = 14 // arms under their metric
	colGap     = 14 // between columns
	minPlotW   = 300
)

// newForestFig validates f and computes its layout; headSize is the size
// of its title (smaller inside a Report).
func newForestFig(f *Forest, headSize vg.Length) (*forestFig, error) {
	name := "forest plot"
	if f.Title != "" {
		name = fmt.Sprintf("forest plot %q", f.Title)
	}
	if len(f.Rows) == 0 {
		return nil, fmt.Errorf("%w: %s has no rows", ErrInvalid, name)
	}
	level := f.Level
	if level == 0 {
		level = 0.95
	}
	if math.IsNaN(level) || level <= 0 || level >= 1 {
		return nil, fmt.Errorf("%w: %s: level %v is not in (0, 1)", ErrInvalid, name, f.Level)
	}
	if math.IsNaN(f.Limit) || math.IsInf(f.Limit, 0) || f.Limit < 0 {
		return nil, fmt.Errorf("%w: %s: limit %v is not a finite fraction ≥ 0", ErrInvalid, name, f.Limit)
	}
	fig := &forestFig{heading: f.Title, headSty: style(headSize, true, colText), level: level}
	index := map[string]int{}
	for i := range f.Rows {
		r := f.Rows[i]
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%w: %s: row %d (%s/%s): %v", ErrInvalid, name, i+1, r.Metric, r.Arm, err)
		}
		r.Verdict = r.resolve()
		g, ok := index[r.Metric]
		if !ok {
			g = len(fig.groups)
			index[r.Metric] = g
			fig.groups = append(fig.groups, forestGroup{metric: r.Metric})
		}
		fig.groups[g].rows = append(fig.groups[g].rows, r)
	}
	fig.scale(f.Limit)
	fig.layout()
	return fig, nil
}

// margin returns where a row's margin mark goes, and whether it has one.
func (r *ForestRow) marginAt() (float64, bool) {
	if r.Margin == 0 {
		return 0, false
	}
	if r.Direction < 0 {
		return r.Margin, true
	}
	return -r.Margin, true
}

// scale chooses the axis range: every estimate, finite bound and margin,
// and zero, within ±limit.
func (fig *forestFig) scale(limit float64) {
	if limit == 0 {
		limit = 1
		for _, g := range fig.groups {
			for _, r := range g.rows {
				limit = math.Max(limit, 1.5*math.Abs(r.Estimate))
			}
		}
	}
	lo, hi := 0.0, 0.0
	see := func(v float64) {
		if math.IsInf(v, 0) {
			return
		}
		v = math.Max(-limit, math.Min(limit, v))
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var widths []float64
	for _, g := range fig.groups {
		for _, r := range g.rows {
			see(r.Estimate)
			for _, iv := range []Interval{r.Fixed, r.Sequential} {
				if iv.given() {
					see(iv.Low)
					see(iv.High)
				}
			}
			if m, ok := r.marginAt(); ok {
				see(m)
			}
			if r.Fixed.given() {
				widths = append(widths, r.Fixed.High-r.Fixed.Low)
			} else if r.Sequential.given() {
				widths = append(widths, r.Sequential.High-r.Sequential.Low)
			}
		}
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.01, hi+0.01
	}
	fig.lo, fig.hi = lo, hi
	fig.valueDec = valueDecimals(widths)
}

// legendWidth is the width legends and labels may use.
const contentW = Width - 2*pad

// layout places the columns, the ticks and the legend.
func (fig *forestFig) layout() {
	armSty := style(sizeLabel, false, colText)
	small := style(sizeSmall, false, colTextSoft)

	// The label column holds the arms, indented under their metric,
	// whose key has a row of its own and may run over the plot. When
	// every metric has one arm, the same (an A/B test), the rows are
	// labelled with the metric's key instead and the arm is named above
	// them; a key too long for the column still gets a row of its own.
	compact := true
	for _, g := range fig.groups {
		compact = compact && len(g.rows) == 1 && g.rows[0].Arm == fig.groups[0].rows[0].Arm
	}
	const maxLabelW, maxCompactW = 180, 260
	labelW := vg.Length(0)
	for i := range fig.groups {
		g := &fig.groups[i]
		g.header = !compact || armSty.Width(g.metric) > maxCompactW
		for _, r := range g.rows {
			if g.header {
				labelW = max(labelW, indent+min(armSty.Width(r.Arm), maxLabelW))
			} else {
				labelW = max(labelW, armSty.Width(g.metric))
			}
		}
	}
	if compact {
		fig.armHead = "arm: " + fig.groups[0].rows[0].Arm
		labelW = max(labelW, small.Width(fig.armHead))
	}
	labelW = max(labelW, indent+60)

	// The numbers: estimate, fixed interval, sequential interval (a
	// column only when some row has that interval), the notes.
	estW, fixedW, seqW, noteW := small.Width(fig.estHead()), vg.Length(0), vg.Length(0), vg.Length(0)
	for _, g := range fig.groups {
		for _, r := range g.rows {
			estW = max(estW, armSty.Width(fig.estText(r)))
			if r.Fixed.given() {
				fig.hasFixed = true
				fixedW = max(fixedW, small.Width(fig.fixedHead()), armSty.Width(fig.intervalText(r.Fixed)))
			}
			if r.Sequential.given() {
				fig.hasSeq = true
				seqW = max(seqW, small.Width(fig.seqHead()), armSty.Width(fig.intervalText(r.Sequential)))
			}
			noteW = max(noteW, small.Width(r.Note))
		}
	}
	numbersW := estW
	if fig.hasFixed {
		numbersW += colGap + fixedW
	}
	if fig.hasSeq {
		numbersW += colGap + seqW
	}
	notesW := vg.Length(0)
	if noteW > 0 {
		notesW = colGap + min(noteW, 180)
	}
	// Give the plot at least minPlotW: shorten the notes, then the labels.
	plotW := contentW - (labelW + colGap) - (colGap + numbersW) - notesW
	if plotW < minPlotW && notesW > 0 {
		cut := min(minPlotW-plotW, notesW-colGap-60)
		if cut > 0 {
			notesW -= cut
			plotW += cut
		}
	}
	if plotW < minPlotW {
		cut := min(minPlotW-plotW, labelW-indent-60)
		if cut > 0 {
			labelW -= cut
			plotW += cut
		}
	}
	fig.labelX = pad
	fig.armX = pad + indent
	fig.plotX0 = pad + labelW + colGap
	fig.plotX1 = fig.plotX0 + plotW
	fig.estX1 = fig.plotX1 + colGap + estW
	x := fig.estX1
	if fig.hasFixed {
		fig.fixedX = x + colGap
		x = fig.fixedX + fixedW
	}
	if fig.hasSeq {
		fig.seqX = x + colGap
		x = fig.seqX + seqW
	}
	if notesW > 0 {
		fig.noteX = x + colGap
		fig.noteW = notesW - colGap
	}

	// Ticks: the coarsest nice step whose labels do not touch.
	tickSty := style(sizeSmall, false, colTextSoft)
	step := niceStep((fig.hi - fig.lo) / 6)
	for {
		lo := math.Floor(fig.lo/step+1e-9) * step
		hi := math.Ceil(fig.hi/step-1e-9) * step
		ticks := ticksIn(lo, hi, step)
		dec := decimalsFor(step)
		widest := vg.Length(0)
		for _, t := range ticks {
			widest = max(widest, tickSty.Width(percent(t, dec)+"%"))
		}
		if len(ticks) <= 2 || vg.Length(len(ticks))*(widest+16) <= plotW {
			fig.lo, fig.hi, fig.ticks, fig.tickDec = lo, hi, ticks, dec
			break
		}
		step = nextStep(step)
	}
	fig.clipped = fig.anyClipped()
	fig.legend = newLegend(fig.legendItems(), contentW)

	h := vg.Length(pad)
	if fig.heading != "" {
		h += fig.headSty.Height(fig.heading) + headingGap
	}
	h += colHeadH
	for _, g := range fig.groups {
		h += rowH * vg.Length(g.lines())
	}
	h += axisH + legendGap + fig.legend.height() + pad
	fig.h = whole(h)
}

func (fig *forestFig) height() vg.Length { return fig.h }

func (fig *forestFig) title() string {
	if fig.heading != "" {
		return fig.heading
	}
	return "Relative lift per metric and arm"
}

func (fig *forestFig) estHead() string   { return "lift" }
func (fig *forestFig) fixedHead() string { return levelText(fig.level) + " CI" }
func (fig *forestFig) seqHead() string   { return "always-valid" }

// estText is the estimate printed beside a row: "+3.2%".
func (fig *forestFig) estText(r ForestRow) string { return percent(r.Estimate, fig.valueDec) + "%" }

// intervalText is an interval printed beside a row: "−0.5 to +6.9".
func (fig *forestFig) intervalText(iv Interval) string {
	if !iv.given() {
		return ""
	}
	return percent(iv.Low, fig.valueDec) + " to " + percent(iv.High, fig.valueDec)
}

// x maps a lift to the canvas, clamped to the axis.
func (fig *forestFig) x(v float64) vg.Length {
	v = math.Max(fig.lo, math.Min(fig.hi, v))
	return fig.plotX0 + vg.Length((v-fig.lo)/(fig.hi-fig.lo))*(fig.plotX1-fig.plotX0)
}

func (fig *forestFig) beyond(v float64) bool { return v < fig.lo || v > fig.hi }

func (fig *forestFig) anyClipped() bool {
	for _, g := range fig.groups {
		for _, r := range g.rows {
			for _, iv := range []Interval{r.Fixed, r.Sequential} {
				if iv.given() && (fig.beyond(iv.Low) || fig.beyond(iv.High)) {
					return true
				}
			}
			if fig.beyond(r.Estimate) {
				return true
			}
		}
	}
	return false
}

// Interval styles.
const (
	fixedBarH = 7   // thickness of the fixed-horizon bar
	seqLineW  = 1.6 // thickness of the sequential line
	seqCapH   = 8   // height of its end caps
	markerR   = 5
)

// legendItems lists what the plot shows, in a fixed order.
func (fig *forestFig) legendItems() []legendItem {
	present := map[Verdict]bool{}
	hasMargin := false
	for _, g := range fig.groups {
		for _, r := range g.rows {
			present[r.Verdict] = true
			_, m := r.marginAt()
			hasMargin = hasMargin || m
		}
	}
	// One entry per look: worse and regressed share theirs.
	var items []legendItem
	seen := map[look]int{}
	for _, v := range []Verdict{VerdictBetter, VerdictWorse, VerdictOK, VerdictRegressed, VerdictInconclusive} {
		if !present[v] {
			continue
		}
		lk := looks[v]
		key := look{shape: lk.shape, colour: lk.colour}
		if i, ok := seen[key]; ok {
			items[i].text += " / " + lk.legend
			continue
		}
		seen[key] = len(items)
		items = append(items, legendItem{sampleW: 2 * markerR, text: lk.legend,
			sample: func(c draw.Canvas, x, y vg.Length) {
				marker(c, lk.shape, vg.Point{X: x + markerR, Y: y}, markerR, lk.colour)
			}})
	}
	grey := colNeutral
	if fig.hasFixed {
		items = append(items, legendItem{sampleW: 22, text: levelText(fig.level) + " CI, fixed horizon",
			sample: func(c draw.Canvas, x, y vg.Length) {
				fillRect(c, x, y-fixedBarH/2, x+22, y+fixedBarH/2, tint(grey, 0.45))
			}})
	}
	if fig.hasSeq {
		items = append(items, legendItem{sampleW: 22, text: levelText(fig.level) + " always-valid (confidence sequence)",
			sample: func(c draw.Canvas, x, y vg.Length) {
				seqLine(c, x, x+22, y, grey, true, true)
			}})
	}
	if hasMargin {
		items = append(items, legendItem{sampleW: 6, text: "guardrail margin",
			sample: func(c draw.Canvas, x, y vg.Length) {
				stroke(c, colVermillion, 1.5, []vg.Length{3, 2}, vg.Point{X: x + 3, Y: y - 8}, vg.Point{X: x + 3, Y: y + 8})
			}})
	}
	if fig.clipped {
		items = append(items, legendItem{sampleW: 10, text: "continues beyond the axis",
			sample: func(c draw.Canvas, x, y vg.Length) {
				arrow(c, vg.Point{X: x + 10, Y: y}, +1, 8, grey)
			}})
	}
	return items
}

// seqLine draws a sequential interval's line between x0 and x1 at y, with
// an end cap at each end that is not clipped.
func seqLine(c draw.Canvas, x0, x1, y vg.Length, clr color.Color, cap0, cap1 bool) {
	stroke(c, clr, seqLineW, nil, vg.Point{X: x0, Y: y}, vg.Point{X: x1, Y: y})
	if cap0 {
		stroke(c, clr, seqLineW, nil, vg.Point{X: x0, Y: y - seqCapH/2}, vg.Point{X: x0, Y: y + seqCapH/2})
	}
	if cap1 {
		stroke(c, clr, seqLineW, nil, vg.Point{X: x1, Y: y - seqCapH/2}, vg.Point{X: x1, Y: y + seqCapH/2})
	}
}

// draw draws the forest plot in c, top down.
func (fig *forestFig) draw(c draw.Canvas) {
	left := c.Min.X
	off := func(x vg.Length) vg.Length { return left + x }
	y := c.Max.Y - pad

	if fig.heading != "" {
		sty := aligned(fig.headSty, draw.XLeft, draw.YTop)
		label(c, sty, off(pad), y, fit(sty, fig.heading, contentW))
		y -= fig.headSty.Height(fig.heading) + headingGap
	}

	// Column headers.
	small := style(sizeSmall, false, colTextSoft)
	hy := y - colHeadH/2
	label(c, small, off(fig.labelX), hy, fit(small, fig.armHead, fig.plotX0-colGap-fig.labelX))
	label(c, aligned(small, draw.XRight, draw.YCenter), off(fig.estX1), hy, fig.estHead())
	if fig.hasFixed {
		label(c, small, off(fig.fixedX), hy, fig.fixedHead())
	}
	if fig.hasSeq {
		label(c, small, off(fig.seqX), hy, fig.seqHead())
	}
	y -= colHeadH

	metricSty := style(sizeLabel, true, colText)
	armSty := style(sizeLabel, false, colText)
	noteSty := style(sizeSmall, false, colTextSoft)
	x0, x1 := off(fig.plotX0), off(fig.plotX1)
	zeroX := off(fig.x(0))
	for gi, g := range fig.groups {
		groupH := rowH * vg.Length(g.lines())
		if gi%2 == 1 {
			fillRect(c, off(pad-6), y-groupH, off(Width-pad+6), y, colStripe)
		}
		if g.header {
			// The metric's own row: its key may use the width up to
			// the numbers, over the plot, where this row draws no data.
			label(c, metricSty, off(fig.labelX), y-rowH/2, fit(metricSty, g.metric, fig.plotX1-fig.labelX))
			y -= rowH
		}

		// Grid lines, the zero line and the axis run through the arms'
		// rows only, leaving the metric's row clear for its key.
		armsTop, armsBottom := y, y-rowH*vg.Length(len(g.rows))
		for _, t := range fig.ticks {
			if t == 0 {
				continue
			}
			tx := off(fig.x(t))
			stroke(c, colGrid, 1, nil, vg.Point{X: tx, Y: armsTop}, vg.Point{X: tx, Y: armsBottom})
		}
		stroke(c, colZero, 1.2, nil, vg.Point{X: zeroX, Y: armsTop}, vg.Point{X: zeroX, Y: armsBottom})

		for _, r := range g.rows {
			cy := y - rowH/2
			lk := looks[r.Verdict]
			if g.header {
				label(c, armSty, off(fig.armX), cy, fit(armSty, r.Arm, fig.plotX0-colGap-fig.armX))
			} else {
				label(c, armSty, off(fig.labelX), cy, fit(armSty, g.metric, fig.plotX0-colGap-fig.labelX))
			}
			if m, ok := r.marginAt(); ok && !fig.beyond(m) {
				mx := off(fig.x(m))
				stroke(c, colVermillion, 1.5, []vg.Length{3, 2}, vg.Point{X: mx, Y: cy - rowH/2 + 2}, vg.Point{X: mx, Y: cy + rowH/2 - 2})
			}
			if iv := r.Sequential; iv.given() {
				a, b := off(fig.x(iv.Low)), off(fig.x(iv.High))
				seqLine(c, a, b, cy, lk.colour, !fig.beyond(iv.Low), !fig.beyond(iv.High))
				fig.arrows(c, iv, cy, x0, x1, lk.colour)
			}
			if iv := r.Fixed; iv.given() {
				a, b := off(fig.x(iv.Low)), off(fig.x(iv.High))
				fillRect(c, a, cy-fixedBarH/2, b, cy+fixedBarH/2, tint(lk.colour, 0.45))
				fig.arrows(c, iv, cy, x0, x1, lk.colour)
			}
			ex := off(fig.x(r.Estimate))
			if fig.beyond(r.Estimate) {
				dir := 1.0
				if r.Estimate < fig.lo {
					dir = -1
				}
				arrow(c, vg.Point{X: ex, Y: cy}, dir, 10, lk.colour)
			} else {
				marker(c, lk.shape, vg.Point{X: ex, Y: cy}, markerR, lk.colour)
			}

			label(c, aligned(armSty, draw.XRight, draw.YCenter), off(fig.estX1), cy, fig.estText(r))
			label(c, armSty, off(fig.fixedX), cy, fig.intervalText(r.Fixed))
			label(c, armSty, off(fig.seqX), cy, fig.intervalText(r.Sequential))
			if fig.noteW > 0 {
				label(c, noteSty, off(fig.noteX), cy, fit(noteSty, r.Note, fig.noteW))
			}
			y -= rowH
		}
	}

	// The axis: a line under the rows, ticks, percent labels, its name.
	ay := y - 4
	stroke(c, colAxis, 1, nil, vg.Point{X: x0, Y: ay}, vg.Point{X: x1, Y: ay})
	tickSty := aligned(style(sizeSmall, false, colTextSoft), draw.XCenter, draw.YTop)
	for _, t := range fig.ticks {
		tx := off(fig.x(t))
		stroke(c, colAxis, 1, nil, vg.Point{X: tx, Y: ay}, vg.Point{X: tx, Y: ay - 4})
		label(c, tickSty, tx, ay-7, percent(t, fig.tickDec)+"%")
	}
	axisSty := aligned(style(sizeSmall, false, colTextSoft), draw.XCenter, draw.YTop)
	label(c, axisSty, (x0+x1)/2, ay-24, "relative difference to control (treatment ÷ control − 1)")

	fig.legend.draw(c, off(pad), y-axisH-legendGap)
}

// arrows marks the ends of iv that lie beyond the axis.
func (fig *forestFig) arrows(c draw.Canvas, iv Interval, cy, x0, x1 vg.Length, clr color.Color) {
	if iv.Low < fig.lo {
		arrow(c, vg.Point{X: x0 - 2, Y: cy}, -1, 8, clr)
	}
	if iv.High > fig.hi {
		arrow(c, vg.Point{X: x1 + 2, Y: cy}, +1, 8, clr)
	}
}
