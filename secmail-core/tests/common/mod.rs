//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::ops::Range;

/// An independent RFC 2046 §5.1.1 splitter, written apart from the library so that tests can
/// check the library's part boundaries: the body parts between the delimiter lines of
/// `boundary`, anywhere in `data`. The line ending before a delimiter belongs to the delimiter.
pub fn split_by_boundary(data: &[u8], boundary: &str) -> Vec<Range<usize>> {
    let dash = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let mut line_start = 0;
    while line_start < data.len() {
        let next = data[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| line_start + i + 1);
        let line = data[line_start..next].trim_ascii_end();
        let is_close = line == close.as_bytes();
        if is_close || line == dash.as_bytes() {
            if let Some(start) = open {
                let mut end = line_start;
                if end > start && data[end - 1] == b'\n' {
                    end -= 1;
                    if end > start && data[end - 1] == b'\r' {
                        end -= 1;
                    }
                }
                parts.push(start..end);
            }
            if is_close {
                return parts;
            }
            open = Some(next);
        }
        line_start = next;
    }
    panic!("no close delimiter for {boundary}");
}
