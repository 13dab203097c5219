package chart

import (
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// legendItem is one entry of a legend: a sample of what is drawn and the
// words for it.
type legendItem struct {
	sampleW vg.Length
	// sample draws the sample in the box from x to x+sampleW, centred
	// vertically on y.
	sample func(c draw.Canvas, x, y vg.Length)
	text   string
}

// legend is a row of entries below a chart, wrapped onto more lines when
// they do not fit in the width (never drawn over the data).
type legend struct {
	items []legendItem
	lines [][]int // indices into items, per line
	sty   text.Style
}

const (
	legendLineH  = 20 // pixels per line
	legendGapX   = 20 // between entries
	legendSample = 6  // between a sample and its text
)

// newLegend lays the items out in lines no wider than width.
func newLegend(items []legendItem, width vg.Length) legend {
	l := legend{items: items, sty: style(sizeSmall, false, colTextSoft)}
	var line []int
	var x vg.Length
	for i, it := range items {
		w := it.sampleW + legendSample + l.sty.Width(it.text)
		if len(line) > 0 && x+legendGapX+w > width {
			l.lines = append(l.lines, line)
			line, x = nil, 0
		}
		if len(line) > 0 {
			x += legendGapX
		}
		line = append(line, i)
		x += w
	}
	if len(line) > 0 {
		l.lines = append(l.lines, line)
	}
	return l
}

// height is the legend's height: nothing when it has no entries.
func (l legend) height() vg.Length { return vg.Length(len(l.lines)) * legendLineH }

// draw draws the legend with its first line's top at top, from x.
func (l legend) draw(c draw.Canvas, x0, top vg.Length) {
	for n, line := range l.lines {
		y := top - vg.Length(n)*legendLineH - legendLineH/2
		x := x0
		for _, i := range line {
			it := l.items[i]
			it.sample(c, x, y)
			x += it.sampleW + legendSample
			label(c, l.sty, x, y, it.text)
			x += l.sty.Width(it.text) + legendGapX
		}
	}
}
