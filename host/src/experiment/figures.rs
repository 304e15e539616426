//! Figures a script draws itself, from numbers it computed: curves against any x with error
//! bars (accuracy against β̄, mean ± std over seeds) and heatmaps (a pairwise divergence
//! matrix). PNG, with plotters; the report's automatic plots are in `plot`.

use std::path::Path;

use plotters::prelude::*;

use super::plot::{font_available, value_range};

/// One curve: its name, its points, and optionally a half-width of an error bar per point.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Curve {
    /// The legend's text.
    pub name: String,
    /// `(x, y)` points, drawn in the order given.
    pub points: Vec<(f64, f64)>,
    /// Error bar half-widths (e.g. a standard deviation), one per point.
    #[serde(default)]
    pub errors: Option<Vec<f64>>,
    /// Points without a line through them: a scatter plot (predicted against true, say).
    #[serde(default)]
    pub scatter: bool,
}

/// Axis texts of a curve figure.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Axes {
    /// The figure's title.
    pub title: String,
    /// The x axis' label.
    pub x: String,
    /// The y axis' label.
    pub y: String,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws `curves` with markers and error bars into the PNG `path`.
pub fn curves(curves: &[Curve], axes: &Axes, path: &Path) -> Result<(), String> {
    for c in curves {
        if c.errors.as_ref().is_some_and(|e| e.len() != c.points.len()) {
            return Err(format!(
                "curve `{}`: {} errors for {} points",
                c.name,
                c.errors.as_ref().map_or(0, Vec::len),
                c.points.len()
            ));
        }
    }
    let area = BitMapBackend::new(path, (800, 520)).into_drawing_area();
    area.fill(&WHITE).map_err(err)?;
    let text = font_available();
    let spans = |c: &Curve| -> Vec<(f64, f64, f64)> {
        let e = |k: usize| c.errors.as_ref().map_or(0.0, |e| e[k]);
        c.points
            .iter()
            .enumerate()
            .map(|(k, &(x, y))| (x, y - e(k), y + e(k)))
            .collect()
    };
    let all: Vec<(f64, f64, f64)> = curves.iter().flat_map(spans).collect();
    let (x0, x1) = value_range(all.iter().map(|p| p.0), [0.05; 2]);
    let (y0, y1) = value_range(all.iter().flat_map(|p| [p.1, p.2]), [0.05; 2]);
    let mut builder = ChartBuilder::on(&area);
    builder.margin(16);
    if text {
        builder
            .caption(&axes.title, ("sans-serif", 20))
            .x_label_area_size(40)
            .y_label_area_size(60);
    }
    let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc(axes.x.as_str()).y_desc(axes.y.as_str());
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(err)?;
    for (i, c) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let radius = if c.scatter { 2 } else { 4 };
        let drawn = match c.scatter {
            true => chart.draw_series(
                c.points
                    .iter()
                    .map(|&p| Circle::new(p, radius, color.mix(0.6).filled())),
            ),
            false => chart.draw_series(LineSeries::new(
                c.points.iter().copied(),
                color.stroke_width(2),
            )),
        }
        .map_err(err)?;
        if text {
            drawn.label(c.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        }
        if !c.scatter {
            chart
                .draw_series(
                    c.points
                        .iter()
                        .map(|&p| Circle::new(p, radius, color.filled())),
                )
                .map_err(err)?;
        }
        if c.errors.is_some() {
            // A vertical bar with caps a fiftieth of the x range wide.
            let cap = (x1 - x0) / 100.0;
            let bars = spans(c).into_iter().flat_map(|(x, lo, hi)| {
                [
                    vec![(x, lo), (x, hi)],
                    vec![(x - cap, lo), (x + cap, lo)],
                    vec![(x - cap, hi), (x + cap, hi)],
                ]
            });
            chart
                .draw_series(bars.map(|path| PathElement::new(path, color.stroke_width(1))))
                .map_err(err)?;
        }
    }
    if text && curves.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    area.present().map_err(err)
}

/// Draws the square or rectangular `matrix` as a heatmap (white = its minimum, dark blue = its
/// maximum) into the PNG `path`, each cell labelled with its value when a font is available.
pub fn heatmap(matrix: &[Vec<f64>], title: &str, path: &Path) -> Result<(), String> {
    let rows = matrix.len();
    let cols = matrix.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 || matrix.iter().any(|r| r.len() != cols) {
        return Err("heatmap: the matrix must be non-empty with rows of equal length".into());
    }
    let values = matrix.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let area = BitMapBackend::new(path, (640, 600)).into_drawing_area();
    area.fill(&WHITE).map_err(err)?;
    let text = font_available();
    let mut builder = ChartBuilder::on(&area);
    builder.margin(16);
    if text {
        builder
            .caption(title, ("sans-serif", 20))
            .x_label_area_size(30)
            .y_label_area_size(30);
    }
    let mut chart = builder.build_cartesian_2d(0..cols, 0..rows).map_err(err)?;
    if text {
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(cols.min(20))
            .y_labels(rows.min(20))
            // Rows are drawn from the top; the label at a row's top edge is its index.
            .y_label_formatter(&|y| format!("{}", rows - y))
            .draw()
            .map_err(err)?;
    }
    let cells = matrix.iter().enumerate().flat_map(|(r, row)| {
        row.iter().enumerate().map(move |(c, &v)| {
            let t = if v.is_finite() { (v - lo) / span } else { 0.0 };
            let shade = |full: f64| (255.0 - t * (255.0 - full)) as u8;
            // Row 0 at the top, as a matrix is read.
            let top = rows - r;
            Rectangle::new(
                [(c, top), (c + 1, top - 1)],
                RGBColor(shade(8.0), shade(48.0), shade(107.0)).filled(),
            )
        })
    });
    chart.draw_series(cells).map_err(err)?;
    if text && rows * cols <= 400 {
        let labels = matrix.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, &v)| {
                let t = if v.is_finite() { (v - lo) / span } else { 0.0 };
                let color = if t > 0.5 { WHITE } else { BLACK };
                Text::new(
                    format!("{v:.3}"),
                    (c, rows - r),
                    ("sans-serif", 12).into_font().color(&color),
                )
            })
        });
        chart.draw_series(labels).map_err(err)?;
    }
    area.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_written_as_png_and_bad_shapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let curve = Curve {
            name: "ensemble".into(),
            points: vec![(-1.0, 0.4), (0.0, 0.5)],
            errors: Some(vec![0.01, 0.02]),
            scatter: false,
        };
        let png = dir.path().join("acc.png");
        curves(std::slice::from_ref(&curve), &Axes::default(), &png).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
        let scatter = Curve {
            errors: None,
            scatter: true,
            ..curve.clone()
        };
        curves(&[scatter], &Axes::default(), &png).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
        let bad = Curve {
            errors: Some(vec![0.1]),
            ..curve
        };
        assert!(curves(&[bad], &Axes::default(), &png).is_err());

        let map = dir.path().join("js.png");
        heatmap(&[vec![0.0, 0.2], vec![0.2, 0.0]], "JS", &map).unwrap();
        assert_eq!(&std::fs::read(&map).unwrap()[1..4], b"PNG");
        assert!(heatmap(&[vec![0.0], vec![]], "JS", &map).is_err());
    }
}
