//! Typed addresses: an instance (`payment/production`) and a resource inside
//! it (`module.db["main"].google_sql_database.this[0]`).

use std::fmt;

use crate::config::ResourceMode;

/// One service in one environment: the unit of state, locking, planning and applying.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct InstanceAddr {
    pub service: String,
    pub env: String,
}

impl InstanceAddr {
    pub fn new(service: impl Into<String>, env: impl Into<String>) -> InstanceAddr {
        InstanceAddr {
            service: service.into(),
            env: env.into(),
        }
    }
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.env)
    }
}

/// The key of one of several instances made by `count` or `for_each`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceKey {
    None,
    Int(i64),
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// One step of a module path: `module.NAME[KEY]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleStep {
    pub name: String,
    pub key: InstanceKey,
}

/// The path of a module instance from the service's root module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModulePath(pub Vec<ModuleStep>);

impl ModulePath {
    pub fn child(&self, name: &str, key: InstanceKey) -> ModulePath {
        let mut steps = self.0.clone();
        steps.push(ModuleStep {
            name: name.to_string(),
            key,
        });
        ModulePath(steps)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{}{}", step.name, step.key)?;
        }
        Ok(())
    }
}

/// A resource instance inside an instance's module tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceAddr {
    pub module: ModulePath,
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
    pub key: InstanceKey,
}

impl ResourceAddr {
    /// Parses `module.a["x"].google_project.p[0]` as printed by `Display`.
    pub fn parse(s: &str) -> Result<ResourceAddr, String> {
        let mut rest = s;
        let mut steps = Vec::new();
        let mut mode = ResourceMode::Managed;
        loop {
            if let Some(after) = rest.strip_prefix("module.") {
                let (name, key, tail) = split_name_key(after)?;
                steps.push(ModuleStep { name, key });
                rest = tail
                    .strip_prefix('.')
                    .ok_or_else(|| format!("{s:?} does not name a resource"))?;
                continue;
            }
            if let Some(after) = rest.strip_prefix("data.") {
                mode = ResourceMode::Data;
                rest = after;
            }
            break;
        }
        let (type_name, tail) = rest
            .split_once('.')
            .ok_or_else(|| format!("{s:?} is not a resource address (TYPE.NAME)"))?;
        let (name, key, tail) = split_name_key(tail)?;
        if !tail.is_empty() || type_name.is_empty() {
            return Err(format!("{s:?} is not a resource address"));
        }
        Ok(ResourceAddr {
            module: ModulePath(steps),
            mode,
            type_name: type_name.to_string(),
            name,
            key,
        })
    }
}

fn split_name_key(s: &str) -> Result<(String, InstanceKey, &str), String> {
    let end = s.find(['.', '[']).unwrap_or(s.len());
    let name = s[..end].to_string();
    if name.is_empty() {
        return Err(format!("missing name in {s:?}"));
    }
    let rest = &s[end..];
    let Some(inner) = rest.strip_prefix('[') else {
        return Ok((name, InstanceKey::None, rest));
    };
    let close = if inner.starts_with('"') {
        // Find the closing quote, honouring escapes, then the bracket.
        let mut escaped = false;
        let mut close = None;
        for (i, c) in inner.char_indices().skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                close = Some(i + 1);
                break;
            }
        }
        close.ok_or_else(|| format!("unterminated key in {s:?}"))?
    } else {
        inner
            .find(']')
            .ok_or_else(|| format!("unterminated index in {s:?}"))?
    };
    let key_text = &inner[..close];
    let tail = inner[close..]
        .strip_prefix(']')
        .ok_or_else(|| format!("expected ] in {s:?}"))?;
    let key = if key_text.starts_with('"') {
        InstanceKey::Str(
            serde_json::from_str(key_text).map_err(|e| format!("bad key in {s:?}: {e}"))?,
        )
    } else {
        InstanceKey::Int(
            key_text
                .parse()
                .map_err(|_| format!("bad index in {s:?}"))?,
        )
    };
    Ok((name, key, tail))
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        if self.mode == ResourceMode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}{}", self.type_name, self.name, self.key)
    }
}

/// The static label of an address: `module.a["x"].t.n[0]` is `module.a.t.n`.
pub fn static_label(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in address.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '"' if depth > 0 => in_string = true,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_round_trip(s: &str) {
        assert_eq!(
            ResourceAddr::parse(s).map(|a| a.to_string()),
            Ok(s.to_string())
        );
    }

    #[test]
    fn addresses_round_trip() {
        check_round_trip("google_project.this");
        check_round_trip("module.platform.google_spanner_instance.main");
        check_round_trip("module.db[\"a.b\"].module.x[2].google_sql_user.u[\"k\\\"q\"]");
        check_round_trip("data.google_project.p[0]");
    }

    #[test]
    fn bad_addresses_are_errors() {
        assert!(ResourceAddr::parse("module.x").is_err());
        assert!(ResourceAddr::parse("google_project").is_err());
        assert!(ResourceAddr::parse("a.b[zz]").is_err());
    }
}
