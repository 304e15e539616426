//! Line plots of metric series, as PNG and SVG (plotters).

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

/// One series: its name and its (x, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The metric's name.
    pub name: String,
    /// What x is (`step`, `epoch`, `generation`).
    pub x: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
}

/// Below this many points a line also gets a marker at each.
const MARKERS_BELOW: usize = 40;

/// Fonts are looked up where systems keep them; without one, plots are drawn without text.
pub(super) fn font_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let candidates = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
            "C:\\Windows\\Fonts\\arial.ttf",
        ];
        candidates
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .any(|bytes| {
                // plotters keeps registered fonts for the life of the program.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
    })
}

/// Draws `series` over steps into `stem.png` and `stem.svg`.
pub fn line_plot(series: &[Series], title: &str, stem: &Path) -> Result<(), String> {
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw(
        BitMapBackend::new(&png, (800, 480)).into_drawing_area(),
        series,
        title,
    )?;
    draw(
        SVGBackend::new(&svg, (800, 480)).into_drawing_area(),
        series,
        title,
    )
}

fn draw<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
    title: &str,
) -> Result<(), String> {
    let text = font_available();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    area.fill(&WHITE).map_err(|e| err(&e))?;
    let points: Vec<&(f64, f64)> = series.iter().flat_map(|s| &s.points).collect();
    let (x0, x1) = value_range(points.iter().map(|p| p.0), [0.0, 0.02]);
    let (y0, y1) = value_range(points.iter().map(|p| p.1), [0.0, 0.02]);
    let mut builder = ChartBuilder::on(&area);
    builder.margin(16);
    if text {
        builder
            .caption(title, ("sans-serif", 20))
            .x_label_area_size(36)
            .y_label_area_size(56);
    }
    let mut chart = builder
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    let integer_x = points.iter().all(|p| p.0.fract() == 0.0);
    let x_name = series.first().map_or("step", |s| s.x.as_str());
    let whole = |x: &f64| format!("{x:.0}");
    let mut mesh = chart.configure_mesh();
    if integer_x {
        // Whole numbers only: no tick at epoch 2.5.
        let span = (x1 - x0).round().max(1.0) as usize;
        mesh.x_labels(span.min(10) + 1).x_label_formatter(&whole);
    }
    if text {
        mesh.x_desc(x_name);
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(|e| err(&e))?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let drawn = chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?;
        if text {
            drawn.label(s.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        }
        if s.points.len() < MARKERS_BELOW {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    if text && series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    area.present().map_err(|e| err(&e))
}

/// A range covering `values` with margins below and above, as fractions of its span; a point
/// (all values equal) is widened by 0.5 each way, and no finite value gives `0..1`.
pub(super) fn value_range(
    values: impl Iterator<Item = f64>,
    [below, above]: [f64; 2],
) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo - span * below, hi + span * above)
    }
}
