//! `secmail mime …`: look inside messages.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use secmail_core::Limits;
use secmail_core::mime::{Message, Part};
use serde_json::{Value, json};

use crate::io::{Output, read_input};

/// `secmail mime`.
#[derive(Subcommand)]
pub enum MimeCommand {
    /// Show the MIME tree of a message: one line per part (path, content type, size,
    /// protection), or a JSON object with a `parts` array.
    Inspect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The message (default: standard input).
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// Where to write (default: standard output).
        #[arg(long = "out", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub fn run(cmd: MimeCommand) -> Result<()> {
    match cmd {
        MimeCommand::Inspect {
            json,
            input,
            output,
        } => {
            let limits = Limits::default();
            let raw = read_input(input.as_deref(), limits.max_message_size as u64)?;
            let msg = Message::parse_with_limits(raw, &limits)?;
            let mut out = Output::open(output.as_deref())?;
            if json {
                serde_json::to_writer_pretty(&mut out, &inspect_json(&msg))?;
                writeln!(out)?;
            } else {
                out.write_all(inspect_text(&msg).as_bytes())?;
            }
            out.commit()
        }
    }
}

/// The tree as text: one line per part, indented by depth.
pub fn inspect_text(msg: &Message) -> String {
    let mut s = String::new();
    for p in msg.parts() {
        let path = if p.path().depth() == 0 {
            "root".to_owned()
        } else {
            p.path().to_string()
        };
        let indent = "  ".repeat(p.path().depth());
        s.push_str(&format!(
            "{indent}{path:<8} {ct:<32} {size:>9} B  {enc:<16} {prot}{defects}\n",
            ct = p.content_type().mime_type(),
            size = p.size(),
            enc = p.transfer_encoding().as_str(),
            prot = p.protection().map_or("-", |pr| pr.name()),
            defects = if p.defects().is_empty() {
                String::new()
            } else {
                format!("  defects: {:?}", p.defects())
            },
        ));
    }
    s
}

fn part_json(p: &Part) -> Value {
    let ct = p.content_type();
    let params: serde_json::Map<String, Value> = ct
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "path": p.path().to_string(),
        "depth": p.path().depth(),
        "content_type": ct.mime_type(),
        "params": params,
        "transfer_encoding": p.transfer_encoding().as_str(),
        "size": p.size(),
        "body_offset": p.body_offset(),
        "range": [p.range().start, p.range().end],
        "children": p.children().len(),
        "protection": p.protection().map(|pr| pr.name()),
        "defects": p.defects().iter().map(|d| format!("{d:?}")).collect::<Vec<_>>(),
    })
}

/// The tree as a JSON object with a `parts` array (depth first, root first).
pub fn inspect_json(msg: &Message) -> Value {
    json!({
        "size": msg.raw().len(),
        "from": msg.from_address(),
        "subject": msg.header("Subject"),
        "parts": msg.parts().map(part_json).collect::<Vec<_>>(),
    })
}
