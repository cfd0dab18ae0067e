//! An SVG bar chart of the ratios: for each figure, how many times better
//! (right of the middle line) or worse (left) ours is than its baseline, on
//! a log scale, with the goal marked.

use super::Row;
use anyhow::Result;
use svg::node::element::{Line, Rectangle, Text};
use svg::Document;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 420.0;
const ROW: f64 = 34.0;
const TOP: f64 = 50.0;
/// The plot spans factors 1/SPAN … SPAN.
const SPAN: f64 = 64.0;

/// "Times better": > 1 when ours wins, whatever the direction of the unit.
fn advantage(r: &Row, ratio: f64) -> f64 {
    if r.higher_is_better {
        ratio
    } else {
        1.0 / ratio
    }
}

fn x_of(factor: f64) -> f64 {
    let plot = WIDTH - LABEL - 40.0;
    let t = (factor.clamp(1.0 / SPAN, SPAN).log2() / SPAN.log2() + 1.0) / 2.0;
    LABEL + t * plot
}

fn text(x: f64, y: f64, anchor: &str, size: u32, content: impl Into<String>) -> Text {
    Text::new(content.into())
        .set("x", x)
        .set("y", y)
        .set("text-anchor", anchor)
        .set("font-family", "sans-serif")
        .set("font-size", size)
}

pub fn write(path: &std::path::Path, rows: &[Row]) -> Result<()> {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.ratio().is_finite() && r.ratio() > 0.0)
        .collect();
    let height = TOP + ROW * rows.len() as f64 + 40.0;
    let mut doc = Document::new()
        .set("viewBox", (0, 0, WIDTH, height))
        .set("width", WIDTH)
        .set("height", height)
        .add(
            Rectangle::new()
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "white"),
        )
        .add(text(
            WIDTH / 2.0,
            24.0,
            "middle",
            16,
            "ours against its baseline: × better (right) or worse (left), log scale",
        ));
    let middle = x_of(1.0);
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let factor = advantage(r, r.ratio());
        let end = x_of(factor);
        let colour = match r.goal_met() {
            Some(false) => "#c0392b",
            _ if factor >= 1.0 => "#2e86c1",
            _ => "#e67e22",
        };
        doc = doc
            .add(text(
                LABEL - 8.0,
                y + 20.0,
                "end",
                12,
                format!("{}: {}", r.benchmark, r.measurement),
            ))
            .add(
                Rectangle::new()
                    .set("x", middle.min(end))
                    .set("y", y + 6.0)
                    .set("width", (end - middle).abs().max(1.0))
                    .set("height", ROW - 12.0)
                    .set("fill", colour),
            )
            .add(text(
                if factor >= 1.0 { end + 4.0 } else { end - 4.0 },
                y + 20.0,
                if factor >= 1.0 { "start" } else { "end" },
                11,
                format!("{factor:.2}×"),
            ));
        if let Some(goal) = r.goal {
            let gx = x_of(advantage(r, goal));
            doc = doc.add(
                Line::new()
                    .set("x1", gx)
                    .set("x2", gx)
                    .set("y1", y + 2.0)
                    .set("y2", y + ROW - 2.0)
                    .set("stroke", "black")
                    .set("stroke-dasharray", "3,2"),
            );
        }
    }
    doc = doc
        .add(
            Line::new()
                .set("x1", middle)
                .set("x2", middle)
                .set("y1", TOP - 6.0)
                .set("y2", height - 30.0)
                .set("stroke", "#555"),
        )
        .add(text(
            middle,
            height - 12.0,
            "middle",
            11,
            "1× (same as baseline); dashed: goal",
        ));
    svg::save(path, &doc)?;
    Ok(())
}
