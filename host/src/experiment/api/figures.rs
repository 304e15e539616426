//! `plot_curves` and `plot_heatmap`: figures a script draws from numbers it computed.

use rhai::{Dynamic, Engine, Map};

use super::{Rr, Shared, from_dynamic, pure};
use crate::experiment::figures::{self, Axes, Curve};

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn(
        "plot_curves",
        move |path: &str, curves: Dynamic, axes: Map| -> Rr<String> {
            let curves: Vec<Curve> = from_dynamic(&curves, "plot_curves curves")?;
            let axes: Axes = from_dynamic(&Dynamic::from_map(axes), "plot_curves axes")?;
            pure(&s, "plot_curves", |st| {
                let target = st.roots.writable(path)?;
                create_parent(&target)?;
                figures::curves(&curves, &axes, &target)?;
                Ok(target.display().to_string())
            })
        },
    );
    let s = state.clone();
    engine.register_fn(
        "plot_heatmap",
        move |path: &str, matrix: Dynamic, title: &str| -> Rr<String> {
            let matrix: Vec<Vec<f64>> = from_dynamic(&matrix, "plot_heatmap matrix")?;
            pure(&s, "plot_heatmap", |st| {
                let target = st.roots.writable(path)?;
                create_parent(&target)?;
                figures::heatmap(&matrix, title, &target)?;
                Ok(target.display().to_string())
            })
        },
    );
}

fn create_parent(path: &std::path::Path) -> Result<(), String> {
    match path.parent() {
        Some(parent) => {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))
        }
        None => Ok(()),
    }
}
