//! A push gateway on the generated push-gateway trait: it receives
//! `POST /_matrix/push/v1/notify`, keeps each notification for the devices
//! whose pushkeys it knows (where a real gateway would hand them to APNs or
//! Firebase), and answers the others as `rejected`, which tells the
//! homeserver to remove those pushers.

use matrix_api::push_gateway::endpoints::{notify, PushGatewayApi};
use matrix_api::push_gateway::{Notification, NotifyResponse};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// A notification as delivered to one known device.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivered {
    pub app_id: String,
    pub pushkey: String,
    /// The whole notification, as the homeserver sent it.
    pub notification: Notification,
}

/// The gateway's state: the pushkeys it can deliver to, and what it
/// delivered. Cloning shares it.
#[derive(Clone, Default)]
pub struct PushGateway {
    known: Arc<Mutex<BTreeSet<(String, String)>>>,
    delivered: Arc<Mutex<Vec<Delivered>>>,
}

impl PushGateway {
    /// A gateway that knows the pushkey `pushkey` of the app `app_id`.
    pub fn knowing(devices: &[(&str, &str)]) -> PushGateway {
        let gateway = PushGateway::default();
        for (app_id, pushkey) in devices {
            gateway.learn(app_id, pushkey);
        }
        gateway
    }

    /// Starts delivering to a device (its app registered it).
    pub fn learn(&self, app_id: &str, pushkey: &str) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((app_id.to_owned(), pushkey.to_owned()));
    }

    /// Stops delivering to a device (its app was uninstalled): the next
    /// notification for it is rejected.
    pub fn forget(&self, app_id: &str, pushkey: &str) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(app_id.to_owned(), pushkey.to_owned()));
    }

    /// What was delivered so far, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The gateway's router (`/_matrix/push/v1/notify`).
    pub fn router(&self) -> matrix_api_runtime::server::Router {
        matrix_api::push_gateway::endpoints::router(self.clone())
    }
}

impl PushGatewayApi for PushGateway {
    async fn notify(&self, request: notify::Request, _: Credentials) -> Result<notify::Response, MatrixError> {
        let notification = request.body.notification;
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut rejected = Vec::new();
        for device in &notification.devices {
            if known.contains(&(device.app_id.clone(), device.pushkey.clone())) {
                tracing::info!(app_id = %device.app_id, event_id = ?notification.event_id, "delivered");
                self.delivered
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Delivered {
                        app_id: device.app_id.clone(),
                        pushkey: device.pushkey.clone(),
                        notification: notification.clone(),
                    });
            } else {
                rejected.push(device.pushkey.clone());
            }
        }
        Ok(notify::Response::Ok(NotifyResponse::new(rejected)))
    }
}
