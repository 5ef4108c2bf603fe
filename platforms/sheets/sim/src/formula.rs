//! The formula subset: numbers, cell references on the same sheet (`A1`, `$B$2`), `+ - * /`,
//! unary minus, parentheses and `SUM(A1:B3, …)`. Anything else is `#ERROR!` (Sheets' parse
//! error), text in arithmetic is `#VALUE!`, division by zero `#DIV/0!`, a reference past the
//! grid `#REF!`, and a cycle deeper than the evaluation limit `#REF!` as well.

use crate::cell::{CellValue, Evaluated, Lookup};

/// How deep references may chain before a formula is taken as circular.
pub const MAX_DEPTH: u32 = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ref(u32, u32),
    Ident(String),
    Op(char),
}

fn lex(s: &str) -> Result<Vec<Tok>, &'static str> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                i += 1;
            }
            let t: String = b[st..i].iter().collect();
            out.push(Tok::Num(t.parse().map_err(|_| "#ERROR!")?));
        } else if c.is_ascii_alphabetic() || c == '$' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '$') {
                i += 1;
            }
            let t: String = b[st..i].iter().filter(|c| **c != '$').collect();
            let split = t.find(|c: char| c.is_ascii_digit());
            match split {
                Some(p) if p > 0 && t[p..].bytes().all(|x| x.is_ascii_digit()) => {
                    let col = crate::a1::col_index(&t[..p]).ok_or("#ERROR!")?;
                    let row: u32 = t[p..].parse().map_err(|_| "#ERROR!")?;
                    if row == 0 {
                        return Err("#ERROR!");
                    }
                    out.push(Tok::Ref(row - 1, col));
                }
                _ => out.push(Tok::Ident(t.to_ascii_uppercase())),
            }
        } else if "+-*/(),:".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else {
            return Err("#ERROR!");
        }
    }
    Ok(out)
}

struct P<'a, 'b> {
    t: Vec<Tok>,
    i: usize,
    lookup: Lookup<'b>,
    depth: u32,
    _p: std::marker::PhantomData<&'a ()>,
}

impl P<'_, '_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn op(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Op(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn value_of(&self, r: u32, c: u32) -> Result<f64, &'static str> {
        match (self.lookup)(r, c, self.depth + 1) {
            Evaluated::Error(e) => Err(e),
            Evaluated::Value(CellValue::Number(n)) => Ok(n),
            Evaluated::Value(CellValue::Empty) => Ok(0.0),
            Evaluated::Value(CellValue::Bool(b)) => Ok(if b { 1.0 } else { 0.0 }),
            Evaluated::Value(CellValue::Text(_)) => Err("#VALUE!"),
        }
    }
    fn expr(&mut self) -> Result<f64, &'static str> {
        let mut v = self.term()?;
        loop {
            if self.op('+') {
                v += self.term()?;
            } else if self.op('-') {
                v -= self.term()?;
            } else {
                return Ok(v);
            }
        }
    }
    fn term(&mut self) -> Result<f64, &'static str> {
        let mut v = self.factor()?;
        loop {
            if self.op('*') {
                v *= self.factor()?;
            } else if self.op('/') {
                let d = self.factor()?;
                if d == 0.0 {
                    return Err("#DIV/0!");
                }
                v /= d;
            } else {
                return Ok(v);
            }
        }
    }
    fn factor(&mut self) -> Result<f64, &'static str> {
        if self.op('-') {
            return Ok(-self.factor()?);
        }
        if self.op('+') {
            return self.factor();
        }
        if self.op('(') {
            let v = self.expr()?;
            return if self.op(')') { Ok(v) } else { Err("#ERROR!") };
        }
        match self.t.get(self.i).cloned() {
            Some(Tok::Num(n)) => {
                self.i += 1;
                Ok(n)
            }
            Some(Tok::Ref(r, c)) => {
                self.i += 1;
                self.value_of(r, c)
            }
            Some(Tok::Ident(name)) if name == "SUM" => {
                self.i += 1;
                if !self.op('(') {
                    return Err("#ERROR!");
                }
                let mut total = 0.0;
                loop {
                    match self.t.get(self.i).cloned() {
                        Some(Tok::Ref(r0, c0)) => {
                            self.i += 1;
                            let (r1, c1) = if self.op(':') {
                                match self.t.get(self.i).cloned() {
                                    Some(Tok::Ref(r1, c1)) => {
                                        self.i += 1;
                                        (r1, c1)
                                    }
                                    _ => return Err("#ERROR!"),
                                }
                            } else {
                                (r0, c0)
                            };
                            for r in r0.min(r1)..=r0.max(r1) {
                                for c in c0.min(c1)..=c0.max(c1) {
                                    // SUM skips text, as Sheets does.
                                    match self.value_of(r, c) {
                                        Ok(n) => total += n,
                                        Err("#VALUE!") => {}
                                        Err(e) => return Err(e),
                                    }
                                }
                            }
                        }
                        _ => total += self.expr()?,
                    }
                    if self.op(',') {
                        continue;
                    }
                    return if self.op(')') {
                        Ok(total)
                    } else {
                        Err("#ERROR!")
                    };
                }
            }
            Some(Tok::Ident(_)) => Err("#NAME?"),
            _ => Err("#ERROR!"),
        }
    }
}

/// Evaluates a formula (without its `=`).
pub fn eval(f: &str, lookup: Lookup<'_>, depth: u32) -> Result<f64, &'static str> {
    if depth > MAX_DEPTH {
        return Err("#REF!");
    }
    let t = lex(f)?;
    let mut p = P {
        t,
        i: 0,
        lookup,
        depth,
        _p: std::marker::PhantomData,
    };
    let v = p.expr()?;
    if p.i != p.t.len() {
        return Err("#ERROR!");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(r: u32, c: u32, _d: u32) -> Evaluated {
        match (r, c) {
            (0, 0) => Evaluated::Value(CellValue::Number(2.0)),
            (0, 1) => Evaluated::Value(CellValue::Number(3.0)),
            (0, 2) => Evaluated::Value(CellValue::Text("x".into())),
            _ => Evaluated::Value(CellValue::Empty),
        }
    }

    #[test]
    fn arithmetic_and_sum() {
        assert_eq!(eval("A1*B1+1", &grid, 0), Ok(7.0));
        assert_eq!(eval("-(A1+B1)/2", &grid, 0), Ok(-2.5));
        assert_eq!(eval("SUM(A1:C1, 10)", &grid, 0), Ok(15.0));
        assert_eq!(eval("A1/0", &grid, 0), Err("#DIV/0!"));
        assert_eq!(eval("C1+1", &grid, 0), Err("#VALUE!"));
        assert_eq!(eval("VLOOKUP(1)", &grid, 0), Err("#NAME?"));
        assert_eq!(eval("1+", &grid, 0), Err("#ERROR!"));
        assert_eq!(eval("1", &grid, MAX_DEPTH + 1), Err("#REF!"));
    }
}
