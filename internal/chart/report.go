package chart

import (
	"fmt"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Report is the one image `ramp experiments report --plot FILE` writes:
// its title, the forest plot of every metric and arm, and below it the
// lift over time as small multiples (see Series). A part with nothing in
// it (a forest without rows, no series) is left out; a report with
// neither is invalid.
type Report struct {
	// Title is drawn at the top: the experiment, phase, when.
	Title string
	// Forest is the lift per metric and arm; its Title heads its part.
	Forest Forest
	// Series are the lift over time, one per metric and arm, headed
	// "Lift over time".
	Series []Series
}

// seriesHeading heads the time series in a report.
const seriesHeading = "Lift over time"

// reportFig is a validated report: a title and the parts under it.
type reportFig struct {
	heading string
	sty     text.Style
	parts   []figure
	h       vg.Length
}

// figure validates the report and lays it out at Width.
func (r Report) figure() (figure, error) {
	fig := &reportFig{heading: r.Title, sty: style(sizeTitle+1, true, colText)}
	if len(r.Forest.Rows) > 0 {
		f, err := newForestFig(&r.Forest, sizeHeading)
		if err != nil {
			return nil, err
		}
		fig.parts = append(fig.parts, f)
	}
	if len(r.Series) > 0 {
		s, err := newSeriesFig(seriesHeading, sizeHeading, r.Series, true)
		if err != nil {
			return nil, err
		}
		fig.parts = append(fig.parts, s)
	}
	if len(fig.parts) == 0 {
		return nil, fmt.Errorf("%w: report %q has neither forest rows nor series", ErrInvalid, r.Title)
	}
	h := fig.titleH()
	for _, p := range fig.parts {
		h += p.height()
	}
	fig.h = whole(h)
	return fig, nil
}

// titleH is the height of the report's own title block.
func (fig *reportFig) titleH() vg.Length {
	if fig.heading == "" {
		return 0
	}
	return pad + fig.sty.Height(fig.heading)
}

func (fig *reportFig) height() vg.Length { return fig.h }

func (fig *reportFig) title() string {
	if fig.heading != "" {
		return fig.heading
	}
	return "Experiment report"
}

// draw stacks the title and the parts, a rule between the parts.
func (fig *reportFig) draw(c draw.Canvas) {
	top := c.Max.Y
	if fig.heading != "" {
		sty := aligned(fig.sty, draw.XLeft, draw.YTop)
		label(c, sty, c.Min.X+pad, top-pad, fit(sty, fig.heading, contentW))
		top -= fig.titleH()
	}
	for i, p := range fig.parts {
		if i > 0 {
			stroke(c, colGrid, 1, nil, vg.Point{X: c.Min.X + pad, Y: top}, vg.Point{X: c.Max.X - pad, Y: top})
		}
		part := c
		part.Max.Y = top
		part.Min.Y = top - p.height()
		p.draw(part)
		top = part.Min.Y
	}
}
