//! The five API families of the Matrix spec, plus the shared schema folders.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    ClientServer,
    ServerServer,
    Identity,
    ApplicationService,
    PushGateway,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::ClientServer,
        Family::ServerServer,
        Family::Identity,
        Family::ApplicationService,
        Family::PushGateway,
    ];

    /// The folder under `api/` and the Cargo feature name.
    pub fn dir(self) -> &'static str {
        match self {
            Family::ClientServer => "client-server",
            Family::ServerServer => "server-server",
            Family::Identity => "identity",
            Family::ApplicationService => "application-service",
            Family::PushGateway => "push-gateway",
        }
    }

    pub fn from_dir(dir: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.dir() == dir)
    }

    pub fn title(self) -> &'static str {
        match self {
            Family::ClientServer => "Client-Server API",
            Family::ServerServer => "Server-Server (federation) API",
            Family::Identity => "Identity Service API",
            Family::ApplicationService => "Application Service API",
            Family::PushGateway => "Push Gateway API",
        }
    }
}

/// Where a named type lives in the generated crate: one module (and Cargo
/// feature) per family, plus `events` for `event-schemas/` and `common` for
/// the top-level `schemas/` folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Module {
    Family(Family),
    Events,
    Common,
}

impl Module {
    pub fn all() -> impl Iterator<Item = Module> {
        Family::ALL
            .into_iter()
            .map(Module::Family)
            .chain([Module::Events, Module::Common])
    }

    /// The module for a type defined in `file` (relative to the spec root).
    pub fn of_file(file: &str) -> Option<Module> {
        let mut parts = file.split('/');
        match parts.next()? {
            "api" => Family::from_dir(parts.next()?).map(Module::Family),
            "event-schemas" => Some(Module::Events),
            "schemas" => Some(Module::Common),
            _ => None,
        }
    }

    /// The Rust module name.
    pub fn rust_name(self) -> &'static str {
        match self {
            Module::Family(Family::ClientServer) => "client_server",
            Module::Family(Family::ServerServer) => "server_server",
            Module::Family(Family::Identity) => "identity",
            Module::Family(Family::ApplicationService) => "application_service",
            Module::Family(Family::PushGateway) => "push_gateway",
            Module::Events => "events",
            Module::Common => "common",
        }
    }

    /// The Cargo feature that enables the module.
    pub fn feature(self) -> &'static str {
        match self {
            Module::Family(f) => f.dir(),
            Module::Events => "events",
            Module::Common => "common",
        }
    }
}
