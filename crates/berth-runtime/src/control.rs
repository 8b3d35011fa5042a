//! The control protocol between `berth deploy`/`promote`/`rollback` and a
//! running `berth up`, over `<state dir>/control.sock`: one [`Command`] as a
//! JSON line in, [`Reply`] JSON lines out (progress, then one final reply).
//! Both ends use these types; nothing else reads the socket.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::deploy::Command;

/// One line from `berth up` to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Progress { line: String },
    Done,
    Failed { error: String },
}

impl Reply {
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|_| r#"{"reply":"failed","error":"?"}"#.to_owned());
        line.push('\n');
        line
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("nothing is running (no {socket}); start it with `berth up`")]
    NotRunning { socket: String, source: std::io::Error },
    #[error("talking to berth up: {0}")]
    Io(#[from] std::io::Error),
    #[error("berth up answered something this berth cannot read: {line}")]
    Garbled { line: String },
    #[error("berth up closed the connection without an answer")]
    NoAnswer,
    /// The command ran and failed; the message is berth up's.
    #[error("{0}")]
    Failed(String),
}

/// Sends `command` and hands each progress line to `progress`.
pub fn send(socket: &Path, command: &Command, mut progress: impl FnMut(&str)) -> Result<(), ControlError> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|source| ControlError::NotRunning { socket: socket.display().to_string(), source })?;
    let json = serde_json::to_string(command).map_err(|e| ControlError::Io(std::io::Error::other(e)))?;
    stream.write_all(format!("{json}\n").as_bytes())?;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        match serde_json::from_str::<Reply>(&line) {
            Ok(Reply::Progress { line }) => progress(&line),
            Ok(Reply::Done) => return Ok(()),
            Ok(Reply::Failed { error }) => return Err(ControlError::Failed(error)),
            Err(_) => return Err(ControlError::Garbled { line }),
        }
    }
    Err(ControlError::NoAnswer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_as_lines() {
        for reply in [Reply::Progress { line: "web: ready".into() }, Reply::Done, Reply::Failed { error: "no".into() }]
        {
            let line = reply.to_line();
            assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
            assert_eq!(serde_json::from_str::<Reply>(line.trim_end()).ok(), Some(reply));
        }
    }
}
