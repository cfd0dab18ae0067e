//! Recovering a spec file from a copy of a web page that showed it.
//!
//! The project's seed documents (`../shared/seeds/`) were copied from code
//! views in a browser: the page's header (path, line count, size, language)
//! and the blame view's gutter (`|` lines) came along, and every line lost
//! its leading whitespace. YAML without indentation has no structure, so it
//! is put back from what the document must be: an OpenAPI 3.1 or Swagger 2.0
//! description (or a JSON Schema), whose grammar says which keys belong to
//! which object. Each line is placed in the innermost open object that can
//! hold it; the rules for what "can hold" means are in [`Frame::accepts`].
//!
//! What cannot come back is the indentation *inside* text: a description's
//! indented code block reads as plain lines. Everything else — nesting,
//! lists, block and flow scalars, comments — is restored, and the result is
//! parsed as YAML before it is returned.

use std::collections::BTreeSet;

/// The YAML text of a web copy, or why it could not be recovered (with the
/// copy's line number).
pub fn recover(copy: &str) -> Result<String, String> {
    let (numbers, lines): (Vec<usize>, Vec<String>) = content_lines(copy).into_iter().unzip();
    let root = if lines
        .iter()
        .any(|l| l.starts_with("swagger:") || l.starts_with("openapi:"))
    {
        Ctx::Root
    } else {
        Ctx::Schema
    };
    let yaml = Reindenter::new(&lines, root)
        .run()
        .map_err(|(i, e)| format!("line {} (`{}`): {e}", numbers[i], lines[i]))?;
    crate::load::yaml::parse(&yaml).map_err(|e| format!("the recovered text is not YAML: {e}"))?;
    Ok(yaml)
}

/// The document's own lines with their 1-based line numbers in the copy:
/// the page header and the gutter removed, leading whitespace dropped
/// (whatever little of it survived).
fn content_lines(copy: &str) -> Vec<(usize, String)> {
    let all: Vec<&str> = copy.lines().collect();
    // A file view's header ends with "<n> lines", "<size>", "<language>".
    let start = all
        .windows(3)
        .position(|w| is_line_count(w[0]) && is_size(w[1]) && is_language(w[2]))
        .map(|i| i + 3)
        .unwrap_or(0);
    let body = &all[start..];
    // A blame view interleaves gutter lines of a lone `|`.
    let gutter = body.iter().filter(|l| l.trim() == "|").count();
    let has_gutter = gutter * 2 > body.len();
    let mut out: Vec<(usize, String)> = body
        .iter()
        .enumerate()
        .filter(|(_, l)| !(has_gutter && l.trim() == "|"))
        .map(|(i, l)| (start + i + 1, l.trim().to_owned()))
        .collect();
    while out.first().is_some_and(|(_, l)| l.is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|(_, l)| l.is_empty()) {
        out.pop();
    }
    out
}

fn is_line_count(line: &str) -> bool {
    let first = line.split(' ').next().unwrap_or("");
    !first.is_empty() && first.chars().all(|c| c.is_ascii_digit()) && line.contains(" lines")
}

fn is_size(line: &str) -> bool {
    let mut parts = line.split(' ');
    let number = parts.next().unwrap_or("");
    let unit = parts.next().unwrap_or("");
    !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && matches!(unit, "B" | "Bytes" | "KB" | "KiB" | "MB" | "MiB")
}

fn is_language(line: &str) -> bool {
    matches!(line.trim(), "YAML" | "JSON")
}

/// The kinds of object an OpenAPI/Swagger document is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    Root,
    Info,
    Server,
    ServerVariable,
    Components,
    SecurityScheme,
    PathItem,
    Operation,
    SecurityRequirement,
    Parameter,
    RequestBody,
    MediaType,
    Example,
    Response,
    Header,
    Tag,
    Schema,
    /// Example values, `x-` extensions: any keys.
    Any,
}

/// What the value under a key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A scalar on the key's line (or a block scalar below it).
    Scalar,
    /// `type`: a type name, or a list of them.
    TypeName,
    /// A list of scalars (`required`, `enum`, `tags`).
    Scalars,
    /// One object of that kind.
    Object(Ctx),
    /// Names (property names, paths, status codes …) to objects of that kind.
    Named(Ctx),
    /// A list of objects of that kind.
    List(Ctx),
    /// `additionalProperties`: `true`/`false` or a schema.
    SchemaOrBool,
    /// `x-changedInMatrixVersion`: spec versions to text.
    Versions,
    /// Anything (example values).
    Any,
    /// A list of anything.
    Values,
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

/// The slot of `key` in an object of kind `ctx`, if that kind has the key.
fn slot_of(ctx: Ctx, key: &str) -> Option<Slot> {
    use Ctx::*;
    use Slot::*;
    if key == "x-changedInMatrixVersion" {
        return Some(Versions);
    }
    if key == "x-addedInMatrixVersion" {
        return Some(Scalar);
    }
    if key.starts_with("x-") && ctx != Ctx::Any && ctx != Schema && ctx != Parameter {
        return Some(Slot::Any);
    }
    if key == "type" && matches!(ctx, Schema | Parameter | Header) {
        return Some(TypeName);
    }
    Some(match (ctx, key) {
        (Root, "swagger" | "openapi" | "host" | "basePath" | "$schema") => Scalar,
        (Root, "schemes" | "consumes" | "produces") => Scalars,
        (Root, "info") => Object(Info),
        (Root, "paths") => Named(PathItem),
        (Root, "securityDefinitions") => Named(SecurityScheme),
        // OpenAPI allows `servers` per path and operation too; the Matrix
        // spec has them only at the top, often after `paths`, where the last
        // operation would otherwise take them.
        (Root, "servers") => List(Server),
        (Root, "components") => Object(Components),
        (Root, "security") => List(SecurityRequirement),
        (Root, "tags") => List(Tag),
        (Root, "definitions") => Named(Schema),
        (Root, "parameters") => Named(Parameter),
        (Root, "responses") => Named(Response),
        (Root | Operation, "externalDocs") => Slot::Any,
        (Info, "title" | "version" | "description" | "termsOfService") => Scalar,
        (Info, "contact" | "license") => Slot::Any,
        (Server, "url" | "description") => Scalar,
        (Server, "variables") => Named(ServerVariable),
        (ServerVariable, "default" | "description") => Scalar,
        (ServerVariable, "enum") => Scalars,
        (Components, "securitySchemes") => Named(SecurityScheme),
        (Components, "schemas") => Named(Schema),
        (Components, "parameters") => Named(Parameter),
        (Components, "responses") => Named(Response),
        (Components, "examples") => Named(Example),
        (Components, "requestBodies") => Named(RequestBody),
        (Components, "headers") => Named(Header),
        (SecurityScheme, "type" | "name" | "in" | "description" | "scheme" | "bearerFormat" | "$ref") => Scalar,
        (PathItem, m) if METHODS.contains(&m) => Object(Operation),
        (PathItem, "parameters") => List(Parameter),
        (PathItem, "summary" | "description" | "$ref") => Scalar,
        (Operation, "summary" | "description" | "operationId" | "deprecated") => Scalar,
        (Operation, "tags" | "consumes" | "produces") => Scalars,
        (Operation, "security") => List(SecurityRequirement),
        (Operation, "parameters") => List(Parameter),
        (Operation, "requestBody") => Object(RequestBody),
        (Operation, "responses") => Named(Response),
        (
            Parameter,
            "in" | "name" | "description" | "required" | "type" | "format" | "deprecated" | "allowEmptyValue"
            | "collectionFormat" | "style" | "explode" | "minimum" | "maximum" | "pattern" | "$ref",
        ) => Scalar,
        (Parameter, "enum") => Scalars,
        (Parameter, "schema" | "items") => Object(Schema),
        (Parameter, "examples") => Named(Example),
        (Parameter | Header | MediaType, "example") => Slot::Any,
        (Parameter, "default" | "x-example") => Slot::Any,
        (RequestBody, "description" | "required" | "$ref") => Scalar,
        (RequestBody | Response, "content") => Named(MediaType),
        (MediaType, "schema") => Object(Schema),
        (MediaType, "examples") => Named(Example),
        (Example, "summary" | "description" | "$ref" | "externalValue") => Scalar,
        (Example, "value") => Slot::Any,
        (Response, "description" | "$ref") => Scalar,
        (Response, "schema") => Object(Schema),
        (Response, "headers") => Named(Header),
        // Swagger 2.0: media type → example.
        (Response, "examples") => Named(Ctx::Any),
        (Header, "description" | "type" | "format" | "required" | "deprecated" | "$ref") => Scalar,
        (Header, "schema") => Object(Schema),
        (Tag, "name" | "description") => Scalar,
        (
            Schema,
            "type" | "format" | "description" | "title" | "pattern" | "minimum" | "maximum" | "exclusiveMinimum"
            | "exclusiveMaximum" | "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
            | "maxProperties" | "uniqueItems" | "nullable" | "readOnly" | "writeOnly" | "deprecated" | "$ref" | "const"
            | "multipleOf" | "$schema" | "$id" | "x-pattern-format" | "x-pattern" | "x-weight",
        ) => Scalar,
        (Schema, "required" | "enum") => Scalars,
        (Schema, "allOf" | "oneOf" | "anyOf" | "prefixItems") => List(Schema),
        (Schema, "items" | "not" | "propertyNames" | "contains") => Object(Schema),
        (Schema, "additionalProperties" | "unevaluatedProperties") => SchemaOrBool,
        (Schema, "properties" | "patternProperties" | "definitions" | "$defs") => Named(Schema),
        (Schema, "example" | "default") => Slot::Any,
        // JSON Schema's `examples` is a list (a media type's is a map).
        (Schema, "examples") => Values,
        (Schema | Parameter, k) if k.starts_with("x-") => Slot::Any,
        (Ctx::Any, _) => Slot::Any,
        _ => return None,
    })
}

/// A line split into its parts.
#[derive(Clone, Debug)]
enum Line<'a> {
    Blank,
    Comment,
    /// `- rest`
    Item(&'a str),
    /// `key: value` (value possibly empty).
    Entry {
        key: String,
        value: &'a str,
    },
    /// Anything else: text, flow content.
    Text,
}

fn classify(line: &str) -> Line<'_> {
    if line.is_empty() {
        return Line::Blank;
    }
    if line.starts_with('#') {
        return Line::Comment;
    }
    if let Some(rest) = line.strip_prefix("- ") {
        return Line::Item(rest);
    }
    if line == "-" {
        return Line::Item("");
    }
    match split_entry(line) {
        Some((key, value)) => Line::Entry { key, value },
        None => Line::Text,
    }
}

/// `key: value`, `key:`, `"quoted key": value`; `None` for anything else.
fn split_entry(line: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(quote @ ('"' | '\'')) = line.chars().next() {
        let end = line[1..].find(quote)? + 1;
        (line[1..end].to_owned(), &line[end + 1..])
    } else {
        let end = line.find(": ").or_else(|| line.strip_suffix(':').map(|s| s.len()))?;
        let key = &line[..end];
        if key.is_empty() || key.contains(' ') || key.starts_with(['{', '[', '|', '>', '&', '*', '!', '%', '@', '`']) {
            return None;
        }
        (key.to_owned(), &line[end..])
    };
    let value = rest.strip_prefix(':')?;
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    Some((key, value.trim()))
}

/// Whether `key` can name an entry of a map of `ctx` objects.
fn name_fits(ctx: Ctx, key: &str) -> bool {
    match ctx {
        Ctx::Response => key == "default" || key.chars().all(|c| c.is_ascii_digit() || c == 'X'),
        Ctx::PathItem => key.starts_with('/'),
        Ctx::MediaType => key.contains('/'),
        _ => !key.is_empty(),
    }
}

/// Whether `next`, the first line under a key with an empty value, can
/// start what the key's slot holds: a keyword of the object, or a name of
/// the map. This is what tells a property called `content` from a
/// response's `content`, or `paths` from a security scheme called `paths`.
fn opens(slot: Slot, next: &Line<'_>) -> bool {
    let Line::Entry { key, .. } = next else {
        return !matches!(next, Line::Item(_));
    };
    match slot {
        Slot::Object(Ctx::Any) | Slot::Named(Ctx::Any) | Slot::Any => true,
        Slot::Object(Ctx::SecurityRequirement) => true,
        Slot::Object(ctx) => slot_of(ctx, key).is_some(),
        Slot::SchemaOrBool => slot_of(Ctx::Schema, key).is_some(),
        Slot::Named(ctx) => name_fits(ctx, key),
        Slot::Versions => key
            .trim_start_matches('v')
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.'),
        Slot::Scalar | Slot::TypeName | Slot::Scalars | Slot::List(_) | Slot::Values => true,
    }
}

/// What a value on a key's line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inline {
    /// Nothing: an object or list follows on the next lines.
    Empty,
    /// `|`, `|-`, `>` …: text follows.
    Block,
    /// `{ …` or `[ …`: flow content, maybe over several lines.
    Flow,
    /// A plain or quoted scalar.
    Scalar,
}

fn inline(value: &str) -> Inline {
    let value = value.split(" #").next().unwrap_or(value).trim();
    if value.is_empty() {
        Inline::Empty
    } else if value.starts_with('|') || value.starts_with('>') {
        Inline::Block
    } else if value.starts_with('{') || value.starts_with('[') {
        Inline::Flow
    } else {
        Inline::Scalar
    }
}

/// An open object or list, and the column its keys (or `- `) are written at.
#[derive(Debug)]
struct Frame {
    ctx: Ctx,
    /// `Named` objects take names as keys, not their kind's keywords.
    named: bool,
    /// A list: its items are objects of `ctx` (or scalars, when `scalars`).
    list: bool,
    scalars: bool,
    /// A list of example values: takes any item.
    anything: bool,
    indent: usize,
    seen: BTreeSet<String>,
    /// Property names, for the `required` list that follows them.
    properties: BTreeSet<String>,
}

impl Frame {
    fn new(ctx: Ctx, indent: usize) -> Frame {
        Frame {
            ctx,
            named: false,
            list: false,
            scalars: false,
            anything: false,
            indent,
            seen: BTreeSet::new(),
            properties: BTreeSet::new(),
        }
    }

    /// The slot this object gives `key` with this value, if it can hold it
    /// there. `next` is the next line with content, which tells an object
    /// from a list when the value is empty.
    fn accepts(&self, key: &str, value: Inline, next: &Line<'_>) -> Option<Slot> {
        if self.list || self.seen.contains(key) {
            return None;
        }
        let list_follows = matches!(next, Line::Item(_));
        // A list of scalars (`required`, `tags`, a `type` list, scopes).
        let scalars_follow = matches!(next, Line::Item(rest) if !matches!(classify(rest), Line::Entry { .. }));
        if self.named {
            // `$ref` in place of the whole map (`securityDefinitions: {$ref: …}`):
            // nothing can be beside it.
            if self.seen.contains("$ref") {
                return None;
            }
            if key == "$ref" {
                return (value == Inline::Scalar).then_some(Slot::Scalar);
            }
            let shape = match self.ctx {
                Ctx::Any => true,
                _ => {
                    value == Inline::Flow
                        || (value == Inline::Empty && !list_follows && opens(Slot::Object(self.ctx), next))
                }
            };
            return (name_fits(self.ctx, key) && shape).then_some(Slot::Object(self.ctx));
        }
        if self.ctx == Ctx::SecurityRequirement {
            return (value == Inline::Flow || (value == Inline::Empty && scalars_follow)).then_some(Slot::Scalars);
        }
        if self.ctx == Ctx::Any {
            return Some(Slot::Any);
        }
        let slot = slot_of(self.ctx, key)?;
        let fits = match slot {
            // `type:` over a list (`- string`, `- "null"`) is still a type.
            Slot::Scalar => value != Inline::Empty,
            Slot::TypeName => value != Inline::Empty || scalars_follow,
            Slot::Scalars => matches!(value, Inline::Flow) || (value == Inline::Empty && scalars_follow),
            Slot::List(_) | Slot::Values => matches!(value, Inline::Flow) || (value == Inline::Empty && list_follows),
            Slot::Object(_) | Slot::Named(_) | Slot::Versions => {
                matches!(value, Inline::Flow) || (value == Inline::Empty && !list_follows && opens(slot, next))
            }
            Slot::SchemaOrBool => value != Inline::Block,
            Slot::Any => true,
        };
        fits.then_some(slot)
    }
}

/// What the lines being read belong to, besides objects and lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Structure,
    /// Lines of a block scalar, written at this column.
    Block(usize),
    /// A plain scalar continued on the next lines.
    Plain(usize),
    /// A quoted scalar not yet closed (the quote character).
    Quoted(usize, char),
    /// Flow content (`{ … }`) not yet closed: bracket depth.
    Flow(usize, usize),
}

struct Reindenter<'a> {
    lines: &'a [String],
    stack: Vec<Frame>,
    out: String,
    mode: Mode,
}

impl<'a> Reindenter<'a> {
    fn new(lines: &'a [String], root: Ctx) -> Self {
        Reindenter {
            lines,
            stack: vec![Frame::new(root, 0)],
            out: String::new(),
            mode: Mode::Structure,
        }
    }

    /// The YAML, or the index of the line that fits nowhere and why.
    fn run(mut self) -> Result<String, (usize, String)> {
        for i in 0..self.lines.len() {
            self.line(i).map_err(|e| (i, e))?;
        }
        Ok(self.out)
    }

    /// The index of the next line with content after `i`.
    fn next_index(&self, i: usize) -> Option<usize> {
        (i + 1..self.lines.len()).find(|&j| !matches!(classify(&self.lines[j]), Line::Blank | Line::Comment))
    }

    /// The next line with content after `i`, classified.
    fn next_content(&self, i: usize) -> Line<'a> {
        self.next_index(i)
            .map(|j| classify(&self.lines[j]))
            .unwrap_or(Line::Blank)
    }

    fn emit(&mut self, indent: usize, text: &str) {
        if !text.is_empty() {
            self.out.extend(std::iter::repeat_n(' ', indent));
            self.out.push_str(text);
        }
        self.out.push('\n');
    }

    fn line(&mut self, i: usize) -> Result<(), String> {
        let text = self.lines[i].as_str();
        match self.mode {
            Mode::Flow(indent, depth) => {
                self.emit(indent, text);
                let depth = flow_depth(text, depth);
                self.mode = if depth == 0 {
                    Mode::Structure
                } else {
                    Mode::Flow(indent, depth)
                };
                return Ok(());
            }
            Mode::Quoted(indent, quote) => {
                self.emit(indent, text);
                if closes_quote(text, quote) {
                    self.mode = Mode::Structure;
                }
                return Ok(());
            }
            Mode::Block(indent) | Mode::Plain(indent) => {
                // Inside an example value, a plain scalar is a value of one
                // line; a key after it is the example's next key.
                let in_value = matches!(self.mode, Mode::Plain(_));
                let ends = match classify(text) {
                    // A comment between keys, or `#` text: decided by what follows.
                    Line::Comment => self.next_index(i).is_some_and(|j| self.is_structure(j, in_value)),
                    Line::Blank => false,
                    _ => self.is_structure(i, in_value),
                };
                if !ends {
                    self.emit(indent, text);
                    return Ok(());
                }
                self.mode = Mode::Structure;
            }
            Mode::Structure => {}
        }
        let line = classify(text);
        match line {
            Line::Blank => Ok(()),
            Line::Comment => {
                let indent = self.stack.last().map(|f| f.indent).unwrap_or(0);
                self.emit(indent, text);
                Ok(())
            }
            Line::Item(rest) => self.item(i, rest),
            Line::Entry { ref key, value } => self.entry(i, key, value, text),
            Line::Text => Err("not part of any object here".into()),
        }
    }

    /// Whether line `i` starts a new key or list item (and so ends text).
    /// Objects of any keys (example values) count only after a plain
    /// scalar (`with_values`): a block of text ends only where the
    /// document's grammar says something new starts.
    fn is_structure(&self, i: usize, with_values: bool) -> bool {
        let next = self.next_content(i);
        match classify(&self.lines[i]) {
            Line::Entry { key, value } => self
                .stack
                .iter()
                .filter(|f| with_values || f.ctx != Ctx::Any)
                .any(|f| f.accepts(&key, inline(value), &next).is_some()),
            Line::Item(rest) => self.list_taking(rest, i).is_some(),
            _ => false,
        }
    }

    /// The depth of the innermost open list that takes `- rest` as an item.
    fn list_taking(&self, rest: &str, i: usize) -> Option<usize> {
        let next = self.next_content(i);
        self.stack.iter().enumerate().rev().find_map(|(depth, f)| {
            if !f.list {
                return None;
            }
            let takes = match classify(rest) {
                _ if f.anything => true,
                _ if f.scalars => !matches!(classify(rest), Line::Entry { .. }),
                Line::Entry { key, value } => {
                    let probe = Frame::new(f.ctx, 0);
                    probe.accepts(&key, inline(value), &next).is_some()
                }
                Line::Item(_) | Line::Blank => f.ctx == Ctx::Any,
                _ => f.ctx == Ctx::Any || f.ctx == Ctx::Schema && rest.starts_with('{'),
            };
            takes.then_some(depth)
        })
    }

    fn item(&mut self, i: usize, rest: &str) -> Result<(), String> {
        let depth = self.list_taking(rest, i).ok_or("a list item where no list is open")?;
        self.stack.truncate(depth + 1);
        let list = &self.stack[depth];
        let (indent, ctx, scalars) = (list.indent, list.ctx, list.scalars);
        if scalars {
            let text = format!("- {rest}");
            self.emit(indent, &text);
            self.after_scalar(rest, indent + 2);
            return Ok(());
        }
        // An object item: `- key: value` opens it with its first key.
        self.stack.push(Frame::new(ctx, indent + 2));
        match classify(rest) {
            Line::Entry { key, value } => {
                self.out.extend(std::iter::repeat_n(' ', indent));
                self.out.push_str("- ");
                self.place(i, self.stack.len() - 1, &key, value, rest, 0)
            }
            _ => {
                self.emit(indent, &format!("- {rest}"));
                if inline(rest) == Inline::Flow {
                    self.start_flow(rest, indent + 2);
                }
                Ok(())
            }
        }
    }

    fn entry(&mut self, i: usize, key: &str, value: &str, text: &str) -> Result<(), String> {
        let next = self.next_content(i);
        let kind = inline(value);
        let depth = self
            .frame_for(key, kind, &next, value, i)
            .ok_or("no open object has this key")?;
        self.stack.truncate(depth + 1);
        let indent = self.stack[depth].indent;
        self.place(i, depth, key, value, text, indent)
    }

    /// The innermost open object that can hold `key`. A `required` list goes
    /// to the object whose properties it names.
    fn frame_for(&self, key: &str, kind: Inline, next: &Line<'_>, value: &str, i: usize) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.stack.len())
            .rev()
            .filter(|&d| self.stack[d].accepts(key, kind, next).is_some())
            .collect();
        if key == "required" {
            let names = self.required_names(value, i);
            let owner = candidates.iter().copied().find(|&d| {
                let f = &self.stack[d];
                f.ctx == Ctx::Schema && !f.named && !names.is_empty() && names.iter().all(|n| f.properties.contains(n))
            });
            if owner.is_some() {
                return owner;
            }
        }
        // A status code, a path or a media type belongs to the map of those,
        // not to a map of names that happens to be open inside it (the
        // examples of the previous response).
        if let Some(&owner) = candidates.iter().find(|&&d| {
            let f = &self.stack[d];
            key != "$ref" && f.named && matches!(f.ctx, Ctx::Response | Ctx::PathItem | Ctx::MediaType)
        }) {
            return Some(owner);
        }
        // An object of any keys (an example value, `x-changedInMatrixVersion`)
        // takes everything; a keyword of an enclosing object is that
        // object's, which is what ends an empty-valued `default:` too.
        // (An example value just opened takes its first line, whatever it is.)
        let top = &self.stack[*candidates.first()?];
        if top.ctx == Ctx::Any && !top.seen.is_empty() {
            if let Some(&owner) = candidates.iter().find(|&&d| self.stack[d].ctx != Ctx::Any) {
                return Some(owner);
            }
        }
        candidates.first().copied()
    }

    /// The names a `required` list at line `i` gives (flow or block form).
    fn required_names(&self, value: &str, i: usize) -> Vec<String> {
        let unquote = |s: &str| s.trim().trim_matches(['"', '\'']).to_owned();
        if let Some(inner) = value.strip_prefix('[') {
            return inner
                .trim_end_matches(']')
                .split(',')
                .map(unquote)
                .filter(|s| !s.is_empty())
                .collect();
        }
        self.lines[i + 1..]
            .iter()
            .map(|l| classify(l))
            .take_while(|l| matches!(l, Line::Item(_) | Line::Comment | Line::Blank))
            .filter_map(|l| match l {
                Line::Item(rest) => Some(unquote(rest)),
                _ => None,
            })
            .collect()
    }

    /// Writes `key: value` into the object at `depth` (the key's text is
    /// `text`, written at `indent` unless the caller already wrote a `- `)
    /// and opens what its value starts.
    fn place(
        &mut self,
        i: usize,
        depth: usize,
        key: &str,
        value: &str,
        text: &str,
        indent: usize,
    ) -> Result<(), String> {
        let next = self.next_content(i);
        let kind = inline(value);
        let frame = &mut self.stack[depth];
        let slot = frame.accepts(key, kind, &next).ok_or("no open object has this key")?;
        frame.seen.insert(key.to_owned());
        let named_ctx = frame.named.then_some(frame.ctx);
        let key_indent = frame.indent;
        if named_ctx == Some(Ctx::Schema) && depth > 0 && self.stack[depth - 1].ctx == Ctx::Schema {
            self.stack[depth - 1].properties.insert(key.to_owned());
        }
        self.emit(indent, text);
        let child = key_indent + 2;
        match (slot, kind) {
            (_, Inline::Block) => self.mode = Mode::Block(child),
            (_, Inline::Flow) => self.start_flow(value, child),
            (_, Inline::Scalar) => self.after_scalar(value, child),
            (Slot::Scalars | Slot::TypeName | Slot::Scalar, Inline::Empty) => {
                let mut list = Frame::new(Ctx::Any, child);
                list.list = true;
                list.scalars = true;
                self.stack.push(list);
            }
            (Slot::List(ctx), Inline::Empty) => {
                let mut list = Frame::new(ctx, child);
                list.list = true;
                self.stack.push(list);
            }
            (Slot::Object(ctx), Inline::Empty) => self.stack.push(Frame::new(ctx, child)),
            (Slot::Named(ctx), Inline::Empty) => {
                let mut named = Frame::new(ctx, child);
                named.named = true;
                self.stack.push(named);
            }
            (Slot::SchemaOrBool, Inline::Empty) => self.stack.push(Frame::new(Ctx::Schema, child)),
            (Slot::Values, Inline::Empty) => {
                let mut list = Frame::new(Ctx::Any, child);
                list.list = true;
                list.anything = true;
                self.stack.push(list);
            }
            (Slot::Versions | Slot::Any, Inline::Empty) => {
                let mut any = Frame::new(Ctx::Any, child);
                if matches!(next, Line::Item(_)) {
                    any.list = true;
                    any.anything = true;
                }
                self.stack.push(any);
            }
        }
        Ok(())
    }

    fn start_flow(&mut self, value: &str, indent: usize) {
        let depth = flow_depth(value, 0);
        if depth > 0 {
            self.mode = Mode::Flow(indent, depth);
        }
    }

    /// A plain scalar may go on over the next lines; a quoted one goes on
    /// until its closing quote.
    fn after_scalar(&mut self, value: &str, indent: usize) {
        match value.chars().next() {
            Some(quote @ ('"' | '\'')) if !closes_quote(&value[1..], quote) => self.mode = Mode::Quoted(indent, quote),
            Some('"' | '\'') => {}
            _ => self.mode = Mode::Plain(indent),
        }
    }
}

/// The bracket depth after `text`, starting at `depth` (strings skipped).
fn flow_depth(text: &str, mut depth: usize) -> usize {
    let mut in_string: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match in_string {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    in_string = None;
                }
            }
            None => match c {
                '"' | '\'' => in_string = Some(c),
                '{' | '[' => depth += 1,
                '}' | ']' => depth = depth.saturating_sub(1),
                '#' if depth == 0 => break,
                _ => {}
            },
        }
    }
    depth
}

/// Whether `text` (inside a quoted scalar) holds its closing quote.
fn closes_quote(text: &str, quote: char) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
                continue;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> serde_json::Value {
        crate::load::yaml::parse(yaml).unwrap()
    }

    #[test]
    fn nesting_comes_back_from_the_grammar() {
        let copy = "openapi: 3.1.0\ninfo:\ntitle: T\nversion: 1.0.0\npaths:\n\"/a/{b}\":\nput:\nsummary: S\nparameters:\n- in: path\nname: b\nrequired: true\nschema:\ntype: string\n- in: query\nname: c\nschema:\ntype: integer\nresponses:\n\"200\":\ndescription: |-\nText that goes on.\n- a markdown list item\ncontent:\napplication/json:\nschema:\ntype: object\nproperties:\ntype:\ntype: string\nformat:\ntype: string\nrequired:\n- type\nexamples:\nresponse:\nvalue: {\n\"type\": \"x\"\n}\n";
        let v = parse(&recover(copy).unwrap());
        let op = &v["paths"]["/a/{b}"]["put"];
        assert_eq!(op["parameters"][1]["name"], "c");
        assert_eq!(op["parameters"][1]["schema"]["type"], "integer");
        let ok = &op["responses"]["200"];
        assert_eq!(ok["description"], "Text that goes on.\n- a markdown list item");
        let schema = &ok["content"]["application/json"]["schema"];
        assert_eq!(schema["properties"]["format"]["type"], "string");
        assert_eq!(schema["required"], serde_json::json!(["type"]));
        assert_eq!(
            ok["content"]["application/json"]["examples"]["response"]["value"]["type"],
            "x"
        );
    }

    #[test]
    fn page_header_and_gutter_are_dropped() {
        let copy =
            "some/path.yaml\n\n3 lines\n1 KiB\nYAML\n\n|\n|\nswagger: '2.0'\n|\n|\nbasePath: /x\n|\n|\npaths: {}\n|\n";
        let v = parse(&recover(copy).unwrap());
        assert_eq!(v["basePath"], "/x");
    }

    #[test]
    fn a_line_that_fits_nowhere_is_an_error_with_its_number() {
        let err = recover("swagger: '2.0'\npaths:\n\"/a\":\nget:\nnonsense words here\n").unwrap_err();
        assert!(err.starts_with("line 5"), "{err}");
    }
}
