//! Streaming RFC 1035 §5 master-file reader with file names and line numbers.
//!
//! Why our own reader instead of hickory-proto's: hickory's text parser rejects
//! signed zones, DNAME, RFC 3597 generic RDATA and `\DDD` escapes, gives no line
//! numbers, and its representation is about 7x slower and 5x bigger than the compact
//! wire-format [`Record`] used here. A registry zone can exceed 100 MiB, so the file
//! is read into memory once and tokenized without per-token allocation: tokens are
//! slices borrowing the buffer, and one token vector is reused for every record.

use std::path::{Path, PathBuf};

use crate::dns::name::Name;
use crate::dns::rdata::{Token, parse_period, parse_rdata_into, type_code, type_name};
use crate::dns::record::{CLASS_IN, Record, SourceLoc, rtype};
use crate::dns::registry::class;

/// Largest TTL allowed by RFC 2181 §8; a larger one is read as 0 (see [`over_max_ttl`]).
const MAX_TTL: u32 = 0x7fff_ffff;
/// The "TTL above 2^31-1" warnings listed one by one; the rest are counted.
const MAX_TTL_WARNINGS: usize = 10;
/// The words every "TTL above 2^31-1" warning contains (to count them, see
/// [`finish_warnings`]).
const OVER_MAX_TTL: &str = "above 2^31-1 (RFC 2181 §8); read as 0";
/// Deepest `$INCLUDE` nesting accepted, to stop runaway recursion.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Most files one parse may read through `$INCLUDE`, counting repeats: without it a
/// few 100-byte files that each include the next one 4 times (an include bomb) make
/// 4^16 reads within the depth limit, i.e. a parse that never ends.
const MAX_INCLUDED_FILES: usize = 10_000;

/// The result of reading a zone: records in file order plus the files they came from.
#[derive(Debug, Default)]
pub struct ParsedZone {
    /// All records in file order (includes expanded in place), owners lowercased.
    pub records: Vec<Record>,
    /// The files read; `SourceLoc::file` indexes this list (0 is the main file).
    pub files: Vec<PathBuf>,
    /// Non-fatal remarks, already formatted as "file:line: msg".
    pub warnings: Vec<String>,
}

/// A fatal problem in the zone text, located at the file and line where the
/// offending record starts so an operator can fix it directly.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ParseError {
    /// The file containing the error (the included file when inside one).
    pub file: PathBuf,
    /// 1-based line where the record starts.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

/// Reads and parses a zone file. A file that cannot be read is an I/O error (exit 4:
/// missing, unreadable, or not a regular file, which it must be like an included file:
/// `zonesign sign /dev/zero` would otherwise read until memory runs out); a bad text is
/// a [`ParseError`] (exit 2), as is an `$INCLUDE` that cannot be read, which the zone
/// text names at its line.
pub fn parse_file(path: &Path, origin: &Name) -> crate::error::Result<ParsedZone> {
    let text = read_regular(path).map_err(|e| crate::error::Error::io(path, e))?;
    let (mut zone, blocks) = parse_text(&text, path, origin, None)?;
    // The text goes first, so the records of the parallel blocks move into memory it
    // leaves (see `append_blocks`).
    drop(text);
    append_blocks(&mut zone.records, blocks);
    Ok(zone)
}

/// As [`parse_file`], and hands the file's bytes, exactly as parsed, to `side` on
/// another thread meanwhile: the ingress stage keeps a copy of the very bytes it
/// approves (no second read that could see a file changed in between), at the cost of
/// no extra pass.
pub fn parse_file_sharing<T: Send>(
    path: &Path,
    origin: &Name,
    side: impl FnOnce(&[u8]) -> T + Send,
) -> crate::error::Result<(ParsedZone, T)> {
    let text = read_regular(path).map_err(|e| crate::error::Error::io(path, e))?;
    let (parsed, shared) = std::thread::scope(|s| {
        let handle = s.spawn(|| side(&text));
        let parsed = parse_text(&text, path, origin, None);
        (parsed, handle.join())
    });
    drop(text);
    let (mut zone, blocks) = parsed?;
    append_blocks(&mut zone.records, blocks);
    let shared = shared.map_err(|_| {
        crate::error::Error::io(path, std::io::Error::other("the copying thread panicked"))
    })?;
    Ok((zone, shared))
}

/// Reads a zone file a window of about `window` octets at a time and hands each
/// window's records, in file order, to `take` with the files read so far (for
/// messages) and the octets of the file read so far; the records are the same, in the
/// same order, as [`parse_file`]'s.
/// Returns the files and warnings, or `None` if `take` stopped the read.
///
/// Why: `zonesign verify` of a 1M-delegation zone held its 550-670 MB text and every
/// record of it at once (1.76 GiB at the end of the parse, issue 25); a window at a
/// time, the text and the records of one window are all that is held.
///
/// A window ends where a line starts with an owner name, and is read like a whole
/// file ([`read_span`]): a head in order, then parallel blocks. Such a line may still
/// lie inside an entry in parentheses; the window's text then ends inside it, which is
/// an error there. Any error in a window that is not the file's last is taken as that:
/// the state from before the window comes back, and the window is read again twice as
/// long (a true error thus comes out exactly as from [`parse_file`]).
pub fn parse_file_in_windows(
    path: &Path,
    origin: &Name,
    window: usize,
    mut take: impl FnMut(Vec<Record>, &[PathBuf], u64) -> std::ops::ControlFlow<()>,
) -> crate::error::Result<Option<ParsedZone>> {
    use std::io::Read;
    let io = |e| crate::error::Error::io(path, e);
    let mut f = open_regular(path).map_err(io)?;
    let mut ctx = Context::for_file(path, None);
    let mut origin = origin.clone();
    let (mut buf, mut line, mut want, mut eof) = (Vec::new(), 1u32, window.max(1), false);
    let mut offset = 0u64;
    while !(eof && buf.is_empty()) {
        while buf.len() < want && !eof {
            let room = (want - buf.len()).min(window.max(1 << 16));
            let at = buf.len();
            buf.resize(at + room, 0);
            let n = f.read(&mut buf[at..]).map_err(io)?;
            buf.truncate(at + n);
            eof = n == 0;
        }
        let Some(limit) = (if eof {
            Some(buf.len())
        } else {
            window_end(&buf)
        }) else {
            want = buf.len().saturating_mul(2);
            continue;
        };
        let saved = Saved::of(&ctx);
        let mut input = Input {
            text: &buf[..limit],
            path,
            file_idx: 0,
            first_line: line,
            origin: origin.clone(),
            last_owner: None,
        };
        match read_span(&mut ctx, &mut input) {
            Ok(()) => {}
            Err(_) if !eof => {
                saved.restore(&mut ctx);
                want = buf.len().saturating_mul(2);
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        origin = input.origin;
        let mut records = std::mem::take(&mut ctx.zone.records);
        append_blocks(&mut records, std::mem::take(&mut ctx.blocks));
        offset += limit as u64;
        if take(records, &ctx.zone.files, offset).is_break() {
            return Ok(None);
        }
        line = line.saturating_add(line_at(&buf[..limit], limit) - 1);
        buf.drain(..limit);
        want = window.max(1);
    }
    finish_warnings(&mut ctx);
    Ok(Some(ctx.zone))
}

/// Where a window of a zone file read a window at a time may end: after the last
/// newline that is followed by an owner name (as [`split_points`] chooses); `None` if
/// there is none.
fn window_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2)
        .rposition(|w| w[0] == b'\n' && starts_owner(w[1]))
        .map(|p| p + 1)
}

/// The parse state a window changes, kept to undo a window that is read again
/// ([`parse_file_in_windows`]). Records need no undo: each window's are taken.
struct Saved {
    carried: Carried,
    files: usize,
    warnings: usize,
}

impl Saved {
    fn of(ctx: &Context) -> Saved {
        Saved {
            carried: ctx.carried.clone(),
            files: ctx.zone.files.len(),
            warnings: ctx.zone.warnings.len(),
        }
    }

    fn restore(self, ctx: &mut Context) {
        ctx.carried = self.carried;
        ctx.zone.files.truncate(self.files);
        ctx.zone.warnings.truncate(self.warnings);
        ctx.zone.records.clear();
        ctx.blocks.clear();
    }
}

/// Parses zone text already in memory. `file_for_errors` names it in errors and is
/// the base for relative `$INCLUDE` paths.
pub fn parse_bytes(
    text: &[u8],
    file_for_errors: &Path,
    origin: &Name,
) -> Result<ParsedZone, ParseError> {
    parse_bytes_with_ttl(text, file_for_errors, origin, None)
}

/// As [`parse_bytes`], with a TTL for records that give none when there is no `$TTL`:
/// trust-anchor files (`dnssec-dsfromkey` output, `example. IN DS ...`) carry no TTL,
/// and none is needed to use them.
pub fn parse_bytes_with_ttl(
    text: &[u8],
    file_for_errors: &Path,
    origin: &Name,
    default_ttl: Option<u32>,
) -> Result<ParsedZone, ParseError> {
    let (mut zone, blocks) = parse_text(text, file_for_errors, origin, default_ttl)?;
    append_blocks(&mut zone.records, blocks);
    Ok(zone)
}

/// Parses zone text: the records read in order, and those of the parallel blocks that
/// stood (see [`parse_blocks`]), which belong after them, block by block.
fn parse_text(
    text: &[u8],
    file_for_errors: &Path,
    origin: &Name,
    default_ttl: Option<u32>,
) -> Result<(ParsedZone, Vec<Vec<Record>>), ParseError> {
    let mut ctx = read_text(text, file_for_errors, origin, default_ttl)?;
    finish_warnings(&mut ctx);
    Ok((ctx.zone, ctx.blocks))
}

/// Completes the warnings once the whole text is read, in the same file order whether
/// it was read in parallel blocks or not: the count of records that took the previous
/// record's TTL goes into the one warning about it, and "TTL above 2^31-1" warnings
/// past the first [`MAX_TTL_WARNINGS`] become one line that counts them.
fn finish_warnings(ctx: &mut Context) {
    if let Some(i) = ctx.carried.inherited_warning
        && ctx.carried.inherited > 1
        && let Some(w) = ctx.zone.warnings.get_mut(i)
    {
        w.push_str(&format!(
            " (and for {} more records without a TTL after it)",
            ctx.carried.inherited - 1
        ));
    }
    let over = ctx
        .zone
        .warnings
        .iter()
        .filter(|w| w.contains(OVER_MAX_TTL))
        .count();
    if over > MAX_TTL_WARNINGS {
        let mut seen = 0;
        ctx.zone.warnings.retain(|w| {
            if !w.contains(OVER_MAX_TTL) {
                return true;
            }
            seen += 1;
            seen <= MAX_TTL_WARNINGS
        });
        ctx.zone.warnings.push(format!(
            "... and {} more TTLs {OVER_MAX_TTL}",
            over - MAX_TTL_WARNINGS
        ));
    }
}

/// Reads the text (see [`parse_text`]) into a [`Context`].
fn read_text(
    text: &[u8],
    file_for_errors: &Path,
    origin: &Name,
    default_ttl: Option<u32>,
) -> Result<Context, ParseError> {
    let mut ctx = Context::for_file(file_for_errors, default_ttl);
    let mut input = Input {
        text,
        path: file_for_errors,
        file_idx: 0,
        first_line: 1,
        origin: origin.clone(),
        last_owner: None,
    };
    read_span(&mut ctx, &mut input)?;
    Ok(ctx)
}

/// Reads all of `input.text`: a head read in order (directives, includes), then the
/// rest in parallel blocks that start from the head's state, checked afterwards (see
/// [`parse_blocks`]).
fn read_span(ctx: &mut Context, input: &mut Input) -> Result<(), ParseError> {
    let text = input.text;
    let splits = if sequential_only() {
        Vec::new()
    } else {
        split_points(text)
    };
    let Some(&first) = splits.first() else {
        // Typical zone lines are 30-60 bytes; reserving up front avoids repeatedly
        // copying millions of records while the vector grows.
        ctx.zone.records.reserve(text.len() / 48);
        let line = input.first_line;
        return parse_range(ctx, input, 0, usize::MAX, line).map(|_| ());
    };
    let line = input.first_line;
    let end = parse_range(ctx, input, 0, first, line)?;
    if end == first {
        parse_blocks(ctx, input, &splits)
    } else {
        ctx.zone.records.reserve(text.len() / 48);
        let line = input.line_at(end);
        parse_range(ctx, input, end, usize::MAX, line).map(|_| ())
    }
}

#[cfg(test)]
thread_local! {
    /// Tests compare the parallel read with a sequential one on the same text.
    static SEQUENTIAL_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Parallel blocks taken as read, in this thread (tests check the path is taken).
    static PARALLEL_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether this read must be sequential (only tests ask for that).
fn sequential_only() -> bool {
    #[cfg(test)]
    return SEQUENTIAL_ONLY.with(|c| c.get());
    #[cfg(not(test))]
    false
}

/// Zone text at least this large is read in parallel blocks.
const PARALLEL_MIN: usize = if cfg!(test) { 1 << 20 } else { 4 << 20 };
/// Target size of one parallel block.
const BLOCK_BYTES: usize = if cfg!(test) { 256 << 10 } else { 4 << 20 };

/// Where parallel blocks may start: just after a newline, at a line that begins with an
/// owner name (not blank, indented, a comment, a directive or a parenthesis), about
/// every [`BLOCK_BYTES`]. The first is where the sequential head ends.
fn split_points(text: &[u8]) -> Vec<usize> {
    if text.len() < PARALLEL_MIN || rayon::current_num_threads() < 2 {
        return Vec::new();
    }
    let mut splits = Vec::new();
    let mut at = BLOCK_BYTES;
    while at < text.len() {
        let found = text[at..]
            .windows(2)
            .position(|w| w[0] == b'\n' && starts_owner(w[1]));
        let Some(off) = found else { break };
        let p = at + off + 1;
        splits.push(p);
        at = p + BLOCK_BYTES;
    }
    splits
}

/// Whether a line that starts with `c` starts with an owner name: not blank, indented,
/// a comment, a directive or a parenthesis.
fn starts_owner(c: u8) -> bool {
    !b" \t\r\n;()\"$".contains(&c)
}

/// The 1-based line number at byte `pos`: the lexer counts every newline octet.
fn line_at(text: &[u8], pos: usize) -> u32 {
    let n = text[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    u32::try_from(n + 1).unwrap_or(u32::MAX)
}

/// What a speculative block found.
struct Block {
    zone: ParsedZone,
    /// Where its lexer stopped: the next block is valid only if this is its start.
    end: usize,
    /// The last TTL it read explicitly, for what is read sequentially after it.
    last_ttl: Option<u32>,
}

/// Parses the text after the head (which ended at `splits[0]`) in parallel blocks, each
/// starting from the state the head ended in (origin, `$TTL`, class), then takes them
/// in file order, as a sequential read would have made them.
///
/// A block stands only where the reading before it ended exactly at its start and it
/// met nothing whose effect carries over (a directive, a non-IN class). Where not (an
/// entry in parentheses across the boundary, a directive), that stretch is
/// read again sequentially; if that changes the state, the rest is read sequentially.
/// Without `$TTL`, a record that gives no TTL of its own takes the previous record's,
/// which a block cannot know: such a record also sends its stretch back to the
/// sequential read, while zones whose every record has its TTL (signers' output, as
/// `zonesign verify` reads it) are read in blocks. Errors come out in file order,
/// exactly as from a sequential read.
fn parse_blocks(ctx: &mut Context, input: &mut Input, splits: &[usize]) -> Result<(), ParseError> {
    use rayon::prelude::*;
    let text = input.text;
    if ctx.carried.last_class != CLASS_IN {
        let line = input.line_at(splits[0]);
        return parse_range(ctx, input, splits[0], usize::MAX, line).map(|_| ());
    }
    let ends: Vec<usize> = (1..=splits.len())
        .map(|i| splits.get(i).copied().unwrap_or(usize::MAX))
        .collect();
    let newlines: Vec<usize> = splits
        .par_iter()
        .zip(&ends)
        .map(|(&s, &e)| {
            text[s..e.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        })
        .collect();
    let mut lines = Vec::with_capacity(splits.len());
    let mut line = input.line_at(splits[0]) as usize;
    for n in &newlines {
        lines.push(u32::try_from(line).unwrap_or(u32::MAX));
        line += n;
    }
    let state = (input.origin.clone(), ctx.carried.default_ttl);
    let blocks: Vec<Result<Block, ParseError>> = (0..splits.len())
        .into_par_iter()
        .map(|i| {
            let mut block = Context {
                carried: Carried {
                    default_ttl: ctx.carried.default_ttl,
                    warned_ttl: true,
                    ..Carried::default()
                },
                speculative: true,
                ..Context::default()
            };
            let start = splits[i];
            block
                .zone
                .records
                .reserve((ends[i].min(text.len()) - start) / 40);
            let mut part = Input {
                text,
                path: input.path,
                file_idx: input.file_idx,
                first_line: input.first_line,
                origin: state.0.clone(),
                last_owner: None,
            };
            let end = parse_range(&mut block, &mut part, start, ends[i], lines[i])?;
            Ok(Block {
                zone: block.zone,
                end,
                last_ttl: block.carried.last_ttl,
            })
        })
        .collect();
    let chained = blocks.iter().enumerate().all(|(i, b)| {
        b.as_ref()
            .is_ok_and(|b| splits.get(i + 1).is_none_or(|&next| b.end == next))
    });
    if chained {
        keep_blocks(ctx, blocks);
        return Ok(());
    }
    // Reserved once at the final size: growing by doubling while every block still held
    // its records cost about 400 MB at a million delegations, the peak of the whole
    // full sign (issue #5's 1 GiB target).
    let total: usize = blocks
        .iter()
        .filter_map(|b| b.as_ref().ok())
        .map(|b| b.zone.records.len())
        .sum();
    ctx.zone.records.reserve(total);
    let mut cursor = splits[0];
    for (i, block) in blocks.into_iter().enumerate() {
        if cursor >= ends[i] {
            continue; // an entry that began earlier ran over this whole block
        }
        match block {
            Ok(b) if cursor == splits[i] => {
                ctx.zone.records.extend(b.zone.records);
                ctx.zone.warnings.extend(b.zone.warnings);
                input.last_owner = ctx.zone.records.len().checked_sub(1);
                ctx.carried.last_ttl = b.last_ttl.or(ctx.carried.last_ttl);
                cursor = b.end;
                #[cfg(test)]
                PARALLEL_READS.with(|c| c.set(c.get() + 1));
                continue;
            }
            Err(e) if cursor == splits[i] && e.line != SPECULATION_FAILED => return Err(e),
            _ => {}
        }
        // The cursor is at or after this block's start: count lines from there, not
        // from the top of the file, so re-reading stretches stays linear.
        let line_of = |pos: usize| {
            let n = text[splits[i]..pos.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            lines[i].saturating_add(u32::try_from(n).unwrap_or(u32::MAX))
        };
        let from = cursor;
        cursor = parse_range(ctx, input, from, ends[i], line_of(from))?;
        if (&input.origin, ctx.carried.default_ttl) != (&state.0, state.1)
            || ctx.carried.last_class != CLASS_IN
        {
            return parse_range(ctx, input, cursor, usize::MAX, line_of(cursor)).map(|_| ());
        }
    }
    Ok(())
}

/// Keeps the records of blocks that each ended where the next began (the usual case:
/// they read the whole rest of the file) for [`append_blocks`], with their warnings
/// and last TTL taken as a sequential read would have.
fn keep_blocks(ctx: &mut Context, blocks: Vec<Result<Block, ParseError>>) {
    for b in blocks.into_iter().filter_map(Result::ok) {
        ctx.zone.warnings.extend(b.zone.warnings);
        ctx.carried.last_ttl = b.last_ttl.or(ctx.carried.last_ttl);
        ctx.blocks.push(b.zone.records);
        #[cfg(test)]
        PARALLEL_READS.with(|c| c.set(c.get() + 1));
    }
}

/// Appends the records of the parallel blocks to `records`, every block on its own
/// core, straight into their final places.
///
/// Why: moving them one block after another was a single-core copy of 400 MB for the
/// 7 million records of a signed zone of a million delegations (`zonesign verify`,
/// issue #5); and the records' final vector is made only now, after the zone text is
/// freed, so that it takes memory the text leaves instead of 400 MB never touched
/// before (whose page faults cost as much as the copy).
fn append_blocks(records: &mut Vec<Record>, blocks: Vec<Vec<Record>>) {
    let parts = blocks.into_iter().map(|b| (b.len(), b)).collect();
    crate::parallel::extend_in_parallel(records, parts, |block, slots| {
        block.into_iter().for_each(|r| slots.push(r));
    });
}

/// The line of the error a speculative block returns when it meets what only a
/// sequential read can handle (see [`parse_blocks`]); never a real line number.
const SPECULATION_FAILED: u32 = u32::MAX;

/// State shared across the main file and its includes.
struct Context {
    /// The output being built.
    zone: ParsedZone,
    /// Canonical paths of the files being read (include loop detection).
    stack: Vec<PathBuf>,
    /// What one entry leaves for the next: TTLs, class, the inherited-TTL warning.
    carried: Carried,
    /// Reused RDATA buffer, so each record's RDATA is allocated once at exact size.
    scratch: Vec<u8>,
    /// A parallel block (see [`parse_blocks`]): a directive or a non-IN class stops it.
    speculative: bool,
    /// Records of the parallel blocks that stood, in file order after `zone.records`.
    blocks: Vec<Vec<Record>>,
}

impl Default for Context {
    fn default() -> Context {
        Context {
            zone: ParsedZone::default(),
            stack: Vec::new(),
            carried: Carried::default(),
            scratch: Vec::with_capacity(1024),
            speculative: false,
            blocks: Vec::new(),
        }
    }
}

impl Context {
    /// The state at the start of the main file `path`, with the `$TTL` a caller gives.
    fn for_file(path: &Path, default_ttl: Option<u32>) -> Context {
        let mut ctx = Context {
            carried: Carried {
                default_ttl,
                ..Carried::default()
            },
            ..Context::default()
        };
        ctx.zone.files.push(path.to_path_buf());
        ctx.stack.push(canonical_path(path));
        ctx
    }
}

/// The state one entry of a file leaves for the next (besides the origin and owner,
/// which are the file's own: [`Input`]).
#[derive(Clone)]
struct Carried {
    /// `$TTL` value, if any was seen.
    default_ttl: Option<u32>,
    /// TTL of the last record that gave one explicitly.
    last_ttl: Option<u32>,
    /// Class of the last record that gave one explicitly.
    last_class: u16,
    /// Whether the "TTL taken from previous record" warning was already given.
    warned_ttl: bool,
    /// Records that took the previous record's TTL (see [`resolve_ttl`]).
    inherited: usize,
    /// Index in `zone.warnings` of the warning about them, completed with their count
    /// at the end ([`finish_warnings`]).
    inherited_warning: Option<usize>,
}

impl Default for Carried {
    fn default() -> Carried {
        Carried {
            default_ttl: None,
            last_ttl: None,
            last_class: CLASS_IN,
            warned_ttl: false,
            inherited: 0,
            inherited_warning: None,
        }
    }
}

/// One file being read, with its own origin and current owner.
struct Input<'a> {
    text: &'a [u8],
    path: &'a Path,
    file_idx: u32,
    /// The line of the file that `text` starts at: 1, or later for a window of a file
    /// read a window at a time ([`parse_file_in_windows`]).
    first_line: u32,
    origin: Name,
    /// Index in `ParsedZone::records` of the record whose owner is the current
    /// owner (an index rather than a clone saves an allocation per record).
    last_owner: Option<usize>,
}

impl Input<'_> {
    /// The line of the file at byte `pos` of `text`.
    fn line_at(&self, pos: usize) -> u32 {
        (self.first_line - 1).saturating_add(line_at(self.text, pos))
    }

    /// An error at `line` of this file.
    fn error(&self, line: u32, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// Best-effort canonical path for include loop detection.
fn canonical_path(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Reads all entries of one file.
fn parse_input(ctx: &mut Context, mut input: Input) -> Result<(), ParseError> {
    parse_range(ctx, &mut input, 0, usize::MAX, 1).map(|_| ())
}

/// Reads the entries that start at or after `start` and before `end` (`line` is the
/// line at `start`); an entry that begins before `end` is read to its end. Returns
/// where reading stopped.
fn parse_range(
    ctx: &mut Context,
    input: &mut Input,
    start: usize,
    end: usize,
    line: u32,
) -> Result<usize, ParseError> {
    let mut lexer = Lexer {
        buf: input.text,
        pos: start,
        line,
        end,
    };
    let mut toks: Vec<Token> = Vec::with_capacity(32);
    while let Some(entry) = lexer
        .next_entry(&mut toks)
        .map_err(|e| input.error(e.line, e.message))?
    {
        process_entry(ctx, input, &toks, entry)?;
    }
    Ok(lexer.pos)
}

/// Dispatches one logical line to the directive or record handler.
fn process_entry(
    ctx: &mut Context,
    input: &mut Input,
    toks: &[Token],
    entry: Entry,
) -> Result<(), ParseError> {
    match toks.first() {
        Some(first) if !entry.leading_ws && !first.quoted && first.text.starts_with(b"$") => {
            if ctx.speculative {
                return Err(input.error(SPECULATION_FAILED, "directive in a parallel block"));
            }
            directive(ctx, input, toks, entry.line)
        }
        Some(_) => {
            let record = parse_record(ctx, input, toks, entry)?;
            input.last_owner = Some(ctx.zone.records.len());
            ctx.zone.records.push(record);
            Ok(())
        }
        None => Ok(()),
    }
}

/// Handles `$ORIGIN`, `$TTL` and `$INCLUDE`; anything else is an error.
fn directive(
    ctx: &mut Context,
    input: &mut Input,
    toks: &[Token],
    line: u32,
) -> Result<(), ParseError> {
    let name = toks.first().map_or(&b""[..], |t| t.text);
    let args = toks.get(1..).unwrap_or(&[]);
    if name.eq_ignore_ascii_case(b"$ORIGIN") {
        let [arg] = args else {
            return Err(input.error(line, "$ORIGIN needs exactly one name"));
        };
        input.origin = Name::parse(arg.text, Some(&input.origin)).map_err(|e| {
            input.error(line, format!("$ORIGIN: bad name '{}': {e}", show(arg.text)))
        })?;
        Ok(())
    } else if name.eq_ignore_ascii_case(b"$TTL") {
        let [arg] = args else {
            return Err(input.error(line, "$TTL needs exactly one value"));
        };
        let ttl = parse_ttl(arg.text).map_err(|m| input.error(line, format!("$TTL: {m}")))?;
        ctx.carried.default_ttl = Some(over_max_ttl(ctx, input, line, ttl, "$TTL"));
        Ok(())
    } else if name.eq_ignore_ascii_case(b"$INCLUDE") {
        include(ctx, input, args, line)
    } else {
        Err(input.error(line, format!("unsupported directive '{}'", show(name))))
    }
}

/// Reads an included file in place, with its own origin; the includer's origin and
/// owner are unaffected (RFC 1035 §5.1).
fn include(ctx: &mut Context, input: &Input, args: &[Token], line: u32) -> Result<(), ParseError> {
    let (file_tok, origin_tok) = match args {
        [f] => (f, None),
        [f, o] => (f, Some(o)),
        _ => return Err(input.error(line, "$INCLUDE needs a file name and an optional origin")),
    };
    let rel = PathBuf::from(String::from_utf8_lossy(file_tok.text).into_owned());
    let path = input.path.parent().unwrap_or(Path::new("")).join(rel);
    if ctx.stack.len() > MAX_INCLUDE_DEPTH {
        return Err(input.error(
            line,
            format!(
                "$INCLUDE {}: nesting deeper than {MAX_INCLUDE_DEPTH}",
                path.display()
            ),
        ));
    }
    let canon = canonical_path(&path);
    if ctx.stack.contains(&canon) {
        return Err(input.error(
            line,
            format!("$INCLUDE loop: {} is already being read", path.display()),
        ));
    }
    let origin = match origin_tok {
        Some(o) => Name::parse(o.text, Some(&input.origin)).map_err(|e| {
            input.error(
                line,
                format!("$INCLUDE: bad origin '{}': {e}", show(o.text)),
            )
        })?,
        None => input.origin.clone(),
    };
    if ctx.zone.files.len() > MAX_INCLUDED_FILES {
        return Err(input.error(
            line,
            format!(
                "$INCLUDE {}: more than {MAX_INCLUDED_FILES} included files in all (an include loop through repeats?)",
                path.display()
            ),
        ));
    }
    let text = read_regular(&path)
        .map_err(|e| input.error(line, format!("$INCLUDE {}: {e}", path.display())))?;
    let file_idx = u32::try_from(ctx.zone.files.len())
        .map_err(|_| input.error(line, "too many included files"))?;
    ctx.zone.files.push(path.clone());
    ctx.stack.push(canon);
    let child = Input {
        text: &text,
        path: &path,
        file_idx,
        first_line: 1,
        origin,
        last_owner: input.last_owner,
    };
    let result = parse_input(ctx, child);
    ctx.stack.pop();
    result
}

/// Reads an included file, refusing anything but a regular file: `$INCLUDE /dev/zero`
/// (or a FIFO) would otherwise read until memory runs out, or block forever.
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = open_regular(path)?;
    let len = usize::try_from(f.metadata()?.len()).unwrap_or(0);
    if len >= PARALLEL_MIN
        && rayon::current_num_threads() > 1
        && let Some(text) = read_in_parallel(&f, len)?
    {
        return Ok(text);
    }
    let mut text = Vec::with_capacity(len);
    f.read_to_end(&mut text)?;
    Ok(text)
}

/// Opens a file to read, refusing anything but a regular file (see [`read_regular`]).
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let f = std::fs::File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(f)
}

/// Bytes per parallel read of a large file.
const READ_CHUNK: usize = if cfg!(test) { 100_000 } else { 8 << 20 };

/// Reads a file of `len` octets in chunks on all cores, then anything appended since
/// (to its end, as `read_to_end` would); `None` if it became shorter meanwhile (the
/// caller then reads it again from the start).
///
/// Why: the kernel's copy into fresh memory, page by page, took 0.9 s of a single core
/// for the 670 MB signed zone of a million delegations (`zonesign verify`, issue #5),
/// with the other core idle.
fn read_in_parallel(f: &std::fs::File, len: usize) -> std::io::Result<Option<Vec<u8>>> {
    use rayon::prelude::*;
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::FileExt;
    // Zeroed memory of this size comes straight from the OS, untouched until read into.
    let mut text = vec![0u8; len];
    let read = text
        .par_chunks_mut(READ_CHUNK)
        .enumerate()
        .try_for_each(|(i, chunk)| f.read_exact_at(chunk, (i * READ_CHUNK) as u64));
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let mut f = f;
    f.seek(SeekFrom::Start(len as u64))?;
    f.read_to_end(&mut text)?;
    Ok(Some(text))
}

/// Parses a TTL (units allowed) up to 2^32-1; [`over_max_ttl`] then applies the RFC 2181
/// §8 maximum. Above 2^32-1 it is refused, as BIND ("unknown RR type") and Knot ("number
/// is bigger than 32 bits") refuse it.
fn parse_ttl(text: &[u8]) -> Result<u32, String> {
    parse_period(text).ok_or_else(|| format!("bad TTL '{}'", show(text)))
}

/// A TTL above 2^31-1 (RFC 2181 §8) is read as 0, with a warning at its line.
///
/// Why 0 (issue 21): RFC 2181 §8 says to treat such a value "as if the entire value
/// received was zero", and BIND does exactly that (`named-checkzone` 9.18 on TTL
/// 2147483648 or 4294967295, as a record's TTL or as `$TTL`: "$TTL 2147483648 >
/// MAXTTL, setting $TTL to 0", zone "OK", the record printed with TTL 0). Knot
/// (`kzonecheck` 3.2: "No semantic error found") and ldns (`ldns-read-zone`) keep the
/// value as it is; a TTL of 0 is valid in all three (ldns-verify-zone, dnssec-verify,
/// kzonecheck), while one above 2^31-1 is read as 0 by BIND's dnssec-verify but not by
/// the others, so the signed output would mean different things to different
/// validators. Refusing it, as zonesign did before, refused zones all three load.
fn over_max_ttl(ctx: &mut Context, input: &Input, line: u32, ttl: u32, what: &str) -> u32 {
    if ttl <= MAX_TTL {
        return ttl;
    }
    ctx.zone.warnings.push(format!(
        "{}:{line}: {what} {ttl} is {OVER_MAX_TTL}, as BIND reads it",
        input.path.display()
    ));
    0
}

/// Shows raw bytes in a message (lossy; error path only).
fn show(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

/// Parses `[owner] [ttl] [class] type rdata...` (TTL and class in either order).
fn parse_record(
    ctx: &mut Context,
    input: &Input,
    toks: &[Token],
    entry: Entry,
) -> Result<Record, ParseError> {
    let line = entry.line;
    let (owner, mut idx) = if entry.leading_ws {
        let owner = input
            .last_owner
            .and_then(|i| ctx.zone.records.get(i))
            .map(|r| r.owner.clone())
            .ok_or_else(|| input.error(line, "no owner name and no previous owner"))?;
        (owner, 0)
    } else {
        let text = toks.first().map_or(&b""[..], |t| t.text);
        let owner = Name::parse(text, Some(&input.origin))
            .map_err(|e| input.error(line, format!("bad owner name '{}': {e}", show(text))))?;
        (owner.into_lowercase(), 1)
    };
    let mut ttl = None;
    let mut class = None;
    while let Some(tok) = toks.get(idx) {
        if class.is_none()
            && let Some(c) = class::from_text(tok.text)
        {
            class = Some(c);
        } else if ttl.is_none() && tok.text.first().is_some_and(u8::is_ascii_digit) {
            let t = parse_ttl(tok.text).map_err(|m| input.error(line, m))?;
            ttl = Some(over_max_ttl(ctx, input, line, t, "TTL"));
        } else {
            break;
        }
        idx += 1;
    }
    let type_tok = toks
        .get(idx)
        .ok_or_else(|| input.error(line, "missing record type"))?;
    let rtype = type_code(type_tok.text).ok_or_else(|| {
        input.error(
            line,
            format!("unknown record type '{}'", show(type_tok.text)),
        )
    })?;
    let ttl = resolve_ttl(ctx, input, ttl, line, rtype == rtype::SOA)?;
    if ctx.speculative && class.is_some_and(|c| c != CLASS_IN) {
        return Err(input.error(SPECULATION_FAILED, "class in a parallel block"));
    }
    let class = match class {
        Some(c) => {
            ctx.carried.last_class = c;
            c
        }
        None => ctx.carried.last_class,
    };
    let scratch = &mut ctx.scratch;
    scratch.clear();
    parse_rdata_into(
        rtype,
        toks.get(idx + 1..).unwrap_or(&[]),
        &input.origin,
        scratch,
    )
    .map_err(|e| input.error(line, format!("{}: {e}", type_name(rtype))))?;
    let ttl = match ttl {
        Some(t) => t,
        None => soa_minimum_ttl(ctx, input, line),
    };
    Ok(Record {
        owner,
        rtype,
        class,
        ttl,
        rdata: Box::from(ctx.scratch.as_slice()),
        loc: SourceLoc {
            file: input.file_idx,
            line,
        },
    })
}

/// Picks the TTL: explicit, else `$TTL`, else the last explicit TTL (with a warning),
/// else, for an SOA, `None`: its MINIMUM, read by [`soa_minimum_ttl`] once its RDATA is.
///
/// This is BIND's order (issue 21; `named-checkzone` 9.18, zones without `$TTL`): a
/// record without TTL takes the previous record's ("using RFC1035 TTL semantics", RFC
/// 1035 §5.1), also when it is the SOA; an SOA with no TTL before it takes its own
/// MINIMUM, the last field ("no TTL specified; using SOA MINTTL instead"), and the
/// records after it take that as the previous record's; a record before any TTL that
/// is not the SOA is refused ("no TTL specified; zone rejected"), here at its line.
/// (Knot 3.2 differs: `kzonecheck` gives such records its default 3600, whatever came
/// before, which shows only as "TTL mismatch" notices; BIND's reading is the one that
/// keeps the TTLs the file's author wrote nearby.)
fn resolve_ttl(
    ctx: &mut Context,
    input: &Input,
    explicit: Option<u32>,
    line: u32,
    soa: bool,
) -> Result<Option<u32>, ParseError> {
    if let Some(t) = explicit {
        ctx.carried.last_ttl = Some(t);
        return Ok(Some(t));
    }
    if let Some(t) = ctx.carried.default_ttl {
        return Ok(Some(t));
    }
    if ctx.speculative {
        // The previous record's TTL may lie in the block before (see `parse_blocks`).
        return Err(input.error(SPECULATION_FAILED, "inherited TTL in a parallel block"));
    }
    let Some(t) = ctx.carried.last_ttl else {
        if soa {
            return Ok(None);
        }
        return Err(input.error(
            line,
            "no TTL, no $TTL and no record with a TTL before it (BIND refuses it too; the SOA without a TTL would give its MINIMUM to the records after it)",
        ));
    };
    ctx.carried.inherited += 1;
    if !ctx.carried.warned_ttl {
        ctx.carried.warned_ttl = true;
        ctx.carried.inherited_warning = Some(ctx.zone.warnings.len());
        ctx.zone.warnings.push(format!(
            "{}:{line}: no $TTL; using the previous record's TTL {t}, as BIND does",
            input.path.display()
        ));
    }
    Ok(Some(t))
}

/// The TTL of an SOA that gives none, with no `$TTL` and no TTL before it: its MINIMUM
/// (the last 4 octets of the RDATA just read into `ctx.scratch`), which the records
/// after it then take as the previous record's TTL (see [`resolve_ttl`]).
fn soa_minimum_ttl(ctx: &mut Context, input: &Input, line: u32) -> u32 {
    let minimum = ctx
        .scratch
        .last_chunk::<4>()
        .map_or(0, |b| u32::from_be_bytes(*b));
    let t = over_max_ttl(ctx, input, line, minimum, "SOA MINIMUM");
    ctx.carried.last_ttl = Some(t);
    ctx.zone.warnings.push(format!(
        "{}:{line}: no $TTL and no TTL on the SOA; using its MINIMUM {t} as its TTL and for the records after it without one, as BIND does",
        input.path.display()
    ));
    t
}

/// One logical entry (a line, or several joined by parentheses).
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Line of the first token.
    line: u32,
    /// True if the physical line began with a space or tab (owner omitted).
    leading_ws: bool,
}

/// A tokenizer error with its line.
struct LexError {
    line: u32,
    message: String,
}

/// Octets at which [`Lexer::word`] stops its fast scan: those that end a word
/// (whitespace, `;`, `(`, `)`) or need a closer look (`\\`, `"`).
static WORD_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let stops = b" \t\r\n;()\\\"";
    let mut i = 0;
    while i < stops.len() {
        t[stops[i] as usize] = true;
        i += 1;
    }
    t
};

/// Splits master-file text into entries of borrowed tokens.
struct Lexer<'a> {
    buf: &'a [u8],
    pos: usize,
    line: u32,
    /// No entry starts at or after this position (an entry begun before it is finished).
    end: usize,
}

impl<'a> Lexer<'a> {
    /// Fills `toks` with the next non-empty entry; `None` at end of input.
    fn next_entry(&mut self, toks: &mut Vec<Token<'a>>) -> Result<Option<Entry>, LexError> {
        toks.clear();
        let mut paren_line: Option<u32> = None;
        let mut start_line = self.line;
        let mut leading_ws = false;
        let mut at_line_start = true;
        loop {
            let Some(&c) = self.buf.get(self.pos) else {
                if let Some(l) = paren_line {
                    return Err(self.err(l, "unbalanced '(': missing ')'"));
                }
                return Ok(self.finish(toks, start_line, leading_ws));
            };
            if at_line_start && toks.is_empty() && paren_line.is_none() && self.pos >= self.end {
                return Ok(None);
            }
            if at_line_start {
                at_line_start = false;
                if toks.is_empty() {
                    leading_ws = c == b' ' || c == b'\t';
                }
            }
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line = self.line.saturating_add(1);
                    if paren_line.is_none() {
                        if !toks.is_empty() {
                            return Ok(self.finish(toks, start_line, leading_ws));
                        }
                        at_line_start = true;
                    }
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b';' => self.skip_comment(),
                b'(' => {
                    if paren_line.is_some() {
                        return Err(self.err(self.line, "nested '('"));
                    }
                    paren_line = Some(self.line);
                    self.pos += 1;
                }
                b')' => {
                    if paren_line.take().is_none() {
                        return Err(self.err(self.line, "unbalanced ')'"));
                    }
                    self.pos += 1;
                }
                _ => {
                    if toks.is_empty() {
                        start_line = self.line;
                    }
                    let tok = if c == b'"' {
                        self.quoted()?
                    } else {
                        self.word()?
                    };
                    toks.push(tok);
                }
            }
        }
    }

    /// Ends an entry: `None` if it had no tokens.
    fn finish(&self, toks: &[Token], line: u32, leading_ws: bool) -> Option<Entry> {
        (!toks.is_empty()).then_some(Entry { line, leading_ws })
    }

    /// Builds an error.
    fn err(&self, line: u32, message: &str) -> LexError {
        LexError {
            line,
            message: message.to_string(),
        }
    }

    /// Skips to (not past) the end of the line.
    fn skip_comment(&mut self) {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
    }

    /// Reads a double-quoted token; the text excludes the quotes.
    fn quoted(&mut self) -> Result<Token<'a>, LexError> {
        let open_line = self.line;
        self.pos += 1;
        let start = self.pos;
        let end = self.scan_quoted(open_line)?;
        Ok(Token {
            text: self.buf.get(start..end).unwrap_or(&[]),
            quoted: true,
        })
    }

    /// Advances past a closing quote (the opening one already consumed); returns the
    /// position of the closing quote.
    ///
    /// A quoted string ends on the line it began: a newline inside one, escaped or not,
    /// is an error, because BIND refuses both (`named-checkzone`: "unbalanced quotes",
    /// and "syntax error" for `\` before the newline inside parentheses as well) and
    /// Knot refuses both outside parentheses and the escaped one everywhere
    /// (`kzonecheck`: "invalid number"); a zone one of them refuses is not signed.
    fn scan_quoted(&mut self, open_line: u32) -> Result<usize, LexError> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            self.pos += rest
                .iter()
                .position(|&c| matches!(c, b'"' | b'\\' | b'\n'))
                .unwrap_or(rest.len());
            match self.buf.get(self.pos) {
                None => {
                    return Err(self.err(
                        open_line,
                        "unterminated quoted string: no closing '\"' before the end of the file",
                    ));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(self.pos - 1);
                }
                Some(b'\\') => self.escape()?,
                Some(_) => {
                    return Err(self.err(
                        open_line,
                        "unterminated quoted string: no closing '\"' on its line (a quoted string cannot span lines)",
                    ));
                }
            }
        }
    }

    /// Steps over the escape `\X` or `\DDD` at `pos` (RFC 1035 §5.1), inside or outside
    /// quotes. An escape must end on its line: a `\` before the line end (or the file
    /// end) would otherwise swallow the newline and join the next line's record to this
    /// one, which BIND (`named-checkzone`: "syntax error", "unexpected end of input") and
    /// Knot (`kzonecheck`: "invalid number") both refuse; so is a `\DDD` with fewer
    /// than three digits.
    fn escape(&mut self) -> Result<(), LexError> {
        let at = |i: usize| self.buf.get(self.pos + i).copied();
        match at(1) {
            None => return Err(self.err(self.line, "escape '\\' at the end of the file")),
            Some(b'\n') => return Err(self.err(self.line, "escape '\\' at the end of the line")),
            Some(b'\r') if matches!(at(2), None | Some(b'\n')) => {
                return Err(self.err(self.line, "escape '\\' at the end of the line"));
            }
            Some(d) if d.is_ascii_digit() => {
                let (d2, d3) = (at(2), at(3));
                if !d2.is_some_and(|c| c.is_ascii_digit())
                    || !d3.is_some_and(|c| c.is_ascii_digit())
                {
                    let cut = [d2, d3]
                        .iter()
                        .any(|c| matches!(c, None | Some(b'\n' | b'\r')));
                    return Err(self.err(
                        self.line,
                        if cut {
                            "escape '\\DDD' cut short by the end of the line (three digits needed)"
                        } else {
                            "bad escape '\\DDD' (three digits needed)"
                        },
                    ));
                }
                self.pos += 4;
                return Ok(());
            }
            Some(_) => {}
        }
        self.pos += 2;
        Ok(())
    }

    /// Reads an unquoted token up to whitespace, `;`, `(` or `)`. Backslash escapes
    /// the next byte; an embedded `"..."` (as in `alpn="h2,h3"`) is kept whole.
    fn word(&mut self) -> Result<Token<'a>, LexError> {
        let start = self.pos;
        loop {
            // Plain octets are skipped with one table look-up each: a signed zone is mostly long
            // base64 words, and a `match` on every octet was most of the reading time
            // of `zonesign verify` (issue #5).
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            self.pos += rest
                .iter()
                .position(|&c| WORD_STOP[usize::from(c)])
                .unwrap_or(rest.len());
            let Some(&c) = self.buf.get(self.pos) else {
                break;
            };
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' => break,
                b'\\' => self.escape()?,
                b'"' => {
                    let open_line = self.line;
                    self.pos += 1;
                    self.scan_quoted(open_line)?;
                }
                _ => self.pos += 1,
            }
        }
        self.pos = self.pos.min(self.buf.len());
        Ok(Token {
            text: self.buf.get(start..self.pos).unwrap_or(&[]),
            quoted: false,
        })
    }
}

#[cfg(test)]
mod tests;
