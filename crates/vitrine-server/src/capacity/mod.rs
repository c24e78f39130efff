//! Capacities: the compute reports run on, switched by providers, driven by one controller
//! that allows a single transition at a time and a scheduler that pauses idle capacities and
//! follows weekly schedules, counting the reports open by those who may keep them on.

pub mod controller;
pub mod gate;
pub mod presence;
pub mod provider;

pub use controller::CapacityController;
pub use gate::GateCache;
pub use presence::Presence;
pub use provider::{
    AzureProvider, CapacityProvider, LocalProvider, ProviderError, SimulatedProvider,
};
