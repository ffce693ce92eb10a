//! The operand-grid heatmap: a neuron's K or KV map over the `op1 op op2 =` prompts (rows op1,
//! columns op2, NaN for illegal pairs), its view state, palette and side panel. The caller owns the
//! map and a [`HeatmapView`], calls [`HeatmapView::fit`] with the pane's area before drawing, and
//! draws [`Heatmap`] and [`CellPanel`] as widgets.
mod palette;
mod panel;
mod view;
mod widget;

#[cfg(test)]
mod tests;

pub use palette::{ColorDepth, Palette, Scale};
pub use panel::{CellPanel, CellReadout, ImportanceRank, MapKind, Sign};
pub use view::{HeatmapView, Zoom};
pub use widget::Heatmap;
