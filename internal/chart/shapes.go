package chart

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// shape is the marker drawn at an estimate. Shapes differ by verdict as
// well as colours, so that the chart reads in greyscale and for every
// kind of colour vision.
type shape int

const (
	shapeCircle  shape = iota // filled circle
	shapeSquare               // filled square
	shapeDiamond              // filled diamond
	shapeRing                 // hollow circle
)

// marker draws a shape of radius r centred at pt.
func marker(c draw.Canvas, s shape, pt vg.Point, r vg.Length, clr color.Color) {
	var p vg.Path
	switch s {
	case shapeSquare:
		r *= 0.9
		p.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
		p.Line(vg.Point{X: pt.X - r, Y: pt.Y + r})
		p.Close()
	case shapeDiamond:
		r *= 1.25
		p.Move(vg.Point{X: pt.X, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Line(vg.Point{X: pt.X, Y: pt.Y + r})
		p.Line(vg.Point{X: pt.X - r, Y: pt.Y})
		p.Close()
	default:
		p.Move(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Arc(pt, r, 0, 2*math.Pi)
		p.Close()
	}
	c.SetLineDash(nil, 0)
	if s == shapeRing {
		c.SetColor(color.White)
		c.Fill(p)
		c.SetColor(clr)
		c.SetLineWidth(2)
		c.Stroke(p)
		return
	}
	// A white outline keeps the marker apart from the bar under it.
	c.SetColor(color.White)
	c.SetLineWidth(2)
	c.Stroke(p)
	c.SetColor(clr)
	c.Fill(p)
}

// arrow draws a filled triangle with its tip at tip, pointing right
// (dir > 0) or left (dir < 0): the mark of a bound beyond the axis.
func arrow(c draw.Canvas, tip vg.Point, dir float64, size vg.Length, clr color.Color) {
	back := tip.X - vg.Length(dir)*size
	var p vg.Path
	p.Move(tip)
	p.Line(vg.Point{X: back, Y: tip.Y + size*0.6})
	p.Line(vg.Point{X: back, Y: tip.Y - size*0.6})
	p.Close()
	c.SetColor(clr)
	c.Fill(p)
}

// fillRect fills the rectangle between two corners.
func fillRect(c draw.Canvas, x0, y0, x1, y1 vg.Length, clr color.Color) {
	c.FillPolygon(clr, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
}

// stroke draws a line through the points.
func stroke(c draw.Canvas, clr color.Color, width vg.Length, dashes []vg.Length, pts ...vg.Point) {
	c.StrokeLines(draw.LineStyle{Color: clr, Width: width, Dashes: dashes}, pts)
}

// label draws one line of text.
func label(c draw.Canvas, sty text.Style, x, y vg.Length, s string) {
	if s == "" {
		return
	}
	c.FillText(sty, vg.Point{X: x, Y: y}, s)
}
