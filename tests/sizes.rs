//! Sizes a newcomer can read, checked: no source file over 800 lines and no function over 100
//! lines in `src/`, `core/src/` and the other crates' `src/` (handbook, "Small modules").
//!
//! Test code is not counted: `#[cfg(test)]` modules, `tests.rs` files and `tests/` folders.
//! The scan blanks comments, strings and character literals first, so a brace in a string
//! does not end a function; it knows Rust well enough for this code base, not in general.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 100;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            if name != "tests" {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// `text` with comments, strings and character literals replaced by spaces (newlines kept), so
/// that braces and `fn` are only code.
fn blank_non_code(text: &str) -> Vec<u8> {
    let s = text.as_bytes();
    let mut out = s.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to.min(s.len())] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    while i < s.len() {
        let ident_before = i > 0 && (s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_');
        if s[i..].starts_with(b"//") {
            let end = s[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(s.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if s[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (0, i);
            while j < s.len() {
                if s[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if s[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if !ident_before
            && (s[i..].starts_with(b"r#")
                || s[i..].starts_with(b"r\"")
                || s[i..].starts_with(b"br"))
        {
            let start = i;
            let mut j = i + if s[i] == b'b' { 2 } else { 1 };
            let hashes = s[j..].iter().take_while(|&&b| b == b'#').count();
            j += hashes;
            if s.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let end = s[j + 1..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(s.len(), |p| j + 1 + p + close.len());
            blank(&mut out, start, end);
            i = end;
        } else if s[i] == b'"' {
            let mut j = i + 1;
            while j < s.len() && s[j] != b'"' {
                j += if s[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if s[i] == b'\'' {
            // A character literal ('a', '\n', '\u{1F600}'), not a lifetime ('a).
            let len = if s.get(i + 1) == Some(&b'\\') {
                s[i + 2..].iter().position(|&b| b == b'\'').map(|p| p + 3)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (s.get(i + 1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            match len {
                Some(len) => {
                    blank(&mut out, i, i + len);
                    i += len;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The index of the brace that closes the one at `open`.
fn closing(code: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, &b) in code.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    code.len().saturating_sub(1)
}

fn line_of(code: &[u8], at: usize) -> usize {
    code[..at].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The byte ranges of `#[cfg(test)] mod name { ... }` blocks.
fn test_modules(code: &[u8]) -> Vec<(usize, usize)> {
    let text = String::from_utf8_lossy(code);
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let at = from + at;
        let rest = &text[at + "#[cfg(test)]".len()..];
        let item = rest.trim_start();
        let item = item.strip_prefix("pub(crate) ").unwrap_or(item);
        let item = item.strip_prefix("pub ").unwrap_or(item);
        if item.starts_with("mod ") {
            let after = at + "#[cfg(test)]".len() + (rest.len() - item.len());
            let brace = text[after..].find(['{', ';']).map(|p| after + p);
            if let Some(brace) = brace.filter(|&b| code[b] == b'{') {
                ranges.push((at, closing(code, brace)));
            }
        }
        from = at + 1;
    }
    ranges
}

/// (lines of non-test code, functions longer than [`MAX_FN_LINES`] as (name, line, length)).
fn measure(text: &str) -> (usize, Vec<(String, usize, usize)>) {
    let code = blank_non_code(text);
    let tests = test_modules(&code);
    let in_tests = |at: usize| tests.iter().any(|&(a, b)| a <= at && at <= b);
    let test_lines: usize = tests
        .iter()
        .map(|&(a, b)| code[a..=b].iter().filter(|&&c| c == b'\n').count())
        .sum();
    let lines = text.lines().count() - test_lines;
    let mut long = Vec::new();
    let mut i = 0;
    while i + 3 < code.len() {
        let is_fn = code[i..].starts_with(b"fn ")
            && (i == 0 || !(code[i - 1].is_ascii_alphanumeric() || code[i - 1] == b'_'));
        if !is_fn || in_tests(i) {
            i += 1;
            continue;
        }
        let name: String = code[i + 3..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .map(|&b| b as char)
            .collect();
        // The body: the first `{` outside the signature's brackets, unless a `;` comes first
        // (a declaration in a trait).
        let mut depth = 0i32;
        let mut body = None;
        for (j, &b) in code.iter().enumerate().skip(i + 3) {
            match b {
                b'(' | b'[' | b'<' => depth += 1,
                b')' | b']' | b'>' if code[j - 1] != b'-' && code[j - 1] != b'=' => depth -= 1,
                b';' if depth <= 0 => break,
                b'{' if depth <= 0 => {
                    body = Some(j);
                    break;
                }
                _ => {}
            }
        }
        if let Some(open) = body {
            let len = line_of(&code, closing(&code, open)) - line_of(&code, i) + 1;
            if len > MAX_FN_LINES {
                long.push((name, line_of(&code, i), len));
            }
        }
        i += 3;
    }
    (lines, long)
}

#[test]
fn no_file_over_800_lines_and_no_function_over_100() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "core/src", "wire/src", "client/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "the scan found the sources: {files:?}");
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let (lines, long) = measure(&text);
        let shown = file.strip_prefix(root).unwrap().display();
        if lines > MAX_FILE_LINES {
            problems.push(format!("{shown}: {lines} lines of non-test code (at most {MAX_FILE_LINES}): split it by role"));
        }
        for (name, line, len) in long {
            problems.push(format!("{shown}:{line}: fn {name} is {len} lines (at most {MAX_FN_LINES}): extract named steps"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_sees_a_long_function_and_skips_tests_strings_and_comments() {
    let body = "    let x = 1;\n".repeat(MAX_FN_LINES);
    let text = format!(
        "// fn commented() {{\nfn long() {{\n{body}}}\nfn short() -> Vec<u8> {{ let s = \"}} fn x() {{\"; let c = '}}'; vec![] }}\n#[cfg(test)]\nmod tests {{\n    fn long_test() {{\n{body}    }}\n}}\n"
    );
    let (lines, long) = measure(&text);
    assert_eq!(long, [("long".to_string(), 2, MAX_FN_LINES + 2)]);
    assert_eq!(lines, MAX_FN_LINES + 5);
}
