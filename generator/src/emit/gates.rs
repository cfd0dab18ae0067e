//! Which Cargo features compile each generated file.
//!
//! A family's feature compiles its own module whole and, of the other
//! modules, only the files holding the types its own code reaches, so
//! enabling `identity` builds the one client-server type it names (an
//! OpenID token) rather than the whole client-server API. Files are the
//! unit: a file reached for one of its types brings the types it names
//! too. The events module counts as one unit, since its kind enums name
//! every event.

use super::submodule_name;
use crate::family::Module;
use crate::ir::{ty_refs, Api, Operation, TypeId};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::{BTreeMap, BTreeSet};

/// A unit of compilation: a module and one of its files (`""` for the
/// whole events module).
type Unit = (Module, String);

/// The features that compile each file of each module.
pub struct Gates {
    units: BTreeMap<Unit, BTreeSet<Module>>,
}

/// The unit of the file `file` of `module`.
fn unit(module: Module, file: &str) -> Unit {
    match module {
        Module::Events => (Module::Events, String::new()),
        module => (module, file.to_owned()),
    }
}

fn unit_of(api: &Api, id: TypeId) -> Unit {
    let def = api.ty(id);
    unit(def.module, &submodule_name(&def.origin.file))
}

impl Gates {
    /// Follows every module's references (its types' and its operations')
    /// from file to file.
    pub fn compute(api: &Api, modules: &[Module]) -> Gates {
        let mut members: BTreeMap<Unit, Vec<TypeId>> = BTreeMap::new();
        for id in 0..api.types.len() {
            members.entry(unit_of(api, id)).or_default().push(id);
        }
        let mut units: BTreeMap<Unit, BTreeSet<Module>> = BTreeMap::new();
        for &root in modules {
            let mut queue: Vec<Unit> = members.keys().filter(|(m, _)| *m == root).cloned().collect();
            if let Module::Family(family) = root {
                let operations = api.operations.iter().filter(|o| o.family == family);
                queue.extend(
                    operations
                        .flat_map(Operation::tys)
                        .flat_map(ty_refs)
                        .map(|id| unit_of(api, id)),
                );
            }
            let mut reached: BTreeSet<Unit> = BTreeSet::new();
            while let Some(unit) = queue.pop() {
                if !reached.insert(unit.clone()) {
                    continue;
                }
                for &id in members.get(&unit).into_iter().flatten() {
                    queue.extend(
                        api.ty(id)
                            .tys()
                            .into_iter()
                            .flat_map(ty_refs)
                            .map(|id| unit_of(api, id)),
                    );
                }
            }
            for unit in reached {
                units.entry(unit).or_default().insert(root);
            }
        }
        Gates { units }
    }

    /// The features that compile some file of `module`.
    pub fn module(&self, module: Module) -> BTreeSet<Module> {
        self.units
            .iter()
            .filter(|((m, _), _)| *m == module)
            .flat_map(|(_, features)| features.iter().copied())
            .collect()
    }

    /// The features that compile the file `file` of `module`.
    pub fn file(&self, module: Module, file: &str) -> BTreeSet<Module> {
        self.units.get(&unit(module, file)).cloned().unwrap_or_default()
    }

    /// The files of `module` that `feature` compiles (`""`: the events module whole).
    pub fn files_for(&self, feature: Module, module: Module) -> Vec<&str> {
        self.units
            .iter()
            .filter(|((m, _), features)| *m == module && features.contains(&feature))
            .map(|((_, file), _)| file.as_str())
            .collect()
    }
}

/// The condition "one of these features is on", as a `cfg` predicate.
pub fn any_feature(features: &BTreeSet<Module>) -> TokenStream {
    let names: Vec<&str> = features.iter().map(|m| m.feature()).collect();
    match names.as_slice() {
        [one] => quote! { feature = #one },
        many => quote! { any(#(feature = #many),*) },
    }
}
