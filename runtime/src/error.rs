//! The Matrix error: an HTTP status plus the standard JSON body
//! (`errcode`, `error`) and whatever extra fields the spec defines for it
//! (`retry_after_ms`, `soft_logout`, the user-interactive auth `flows`, …),
//! kept as they arrived.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// An `errcode`. Known codes are variants; any other is kept in `Other`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    Forbidden,
    UnknownToken,
    MissingToken,
    UserLocked,
    UserSuspended,
    BadJson,
    NotJson,
    NotFound,
    LimitExceeded,
    Unrecognized,
    Unknown,
    Unauthorized,
    UserDeactivated,
    UserInUse,
    InvalidUsername,
    RoomInUse,
    InvalidRoomState,
    ThreepidInUse,
    ThreepidNotFound,
    ThreepidAuthFailed,
    ThreepidDenied,
    ServerNotTrusted,
    UnsupportedRoomVersion,
    IncompatibleRoomVersion,
    BadState,
    GuestAccessForbidden,
    CaptchaNeeded,
    CaptchaInvalid,
    MissingParam,
    InvalidParam,
    TooLarge,
    Exclusive,
    ResourceLimitExceeded,
    CannotLeaveServerNotice,
    ThreepidMediumNotSupported,
    UserNotFound,
    NotYetUploaded,
    /// Any other code, exactly as received.
    Other(String),
}

crate::string_enum_impls!(ErrorCode {
    Forbidden => "M_FORBIDDEN",
    UnknownToken => "M_UNKNOWN_TOKEN",
    MissingToken => "M_MISSING_TOKEN",
    UserLocked => "M_USER_LOCKED",
    UserSuspended => "M_USER_SUSPENDED",
    BadJson => "M_BAD_JSON",
    NotJson => "M_NOT_JSON",
    NotFound => "M_NOT_FOUND",
    LimitExceeded => "M_LIMIT_EXCEEDED",
    Unrecognized => "M_UNRECOGNIZED",
    Unknown => "M_UNKNOWN",
    Unauthorized => "M_UNAUTHORIZED",
    UserDeactivated => "M_USER_DEACTIVATED",
    UserInUse => "M_USER_IN_USE",
    InvalidUsername => "M_INVALID_USERNAME",
    RoomInUse => "M_ROOM_IN_USE",
    InvalidRoomState => "M_INVALID_ROOM_STATE",
    ThreepidInUse => "M_THREEPID_IN_USE",
    ThreepidNotFound => "M_THREEPID_NOT_FOUND",
    ThreepidAuthFailed => "M_THREEPID_AUTH_FAILED",
    ThreepidDenied => "M_THREEPID_DENIED",
    ServerNotTrusted => "M_SERVER_NOT_TRUSTED",
    UnsupportedRoomVersion => "M_UNSUPPORTED_ROOM_VERSION",
    IncompatibleRoomVersion => "M_INCOMPATIBLE_ROOM_VERSION",
    BadState => "M_BAD_STATE",
    GuestAccessForbidden => "M_GUEST_ACCESS_FORBIDDEN",
    CaptchaNeeded => "M_CAPTCHA_NEEDED",
    CaptchaInvalid => "M_CAPTCHA_INVALID",
    MissingParam => "M_MISSING_PARAM",
    InvalidParam => "M_INVALID_PARAM",
    TooLarge => "M_TOO_LARGE",
    Exclusive => "M_EXCLUSIVE",
    ResourceLimitExceeded => "M_RESOURCE_LIMIT_EXCEEDED",
    CannotLeaveServerNotice => "M_CANNOT_LEAVE_SERVER_NOTICE",
    ThreepidMediumNotSupported => "M_THREEPID_MEDIUM_NOT_SUPPORTED",
    UserNotFound => "M_USER_NOT_FOUND",
    NotYetUploaded => "M_NOT_YET_UPLOADED",
});

/// The JSON body of an error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Absent in user-interactive auth answers (a `401` listing `flows`);
    /// read then as an empty `Other`, and left out again when written.
    #[serde(default = "ErrorCode::missing", skip_serializing_if = "ErrorCode::is_missing")]
    pub errcode: ErrorCode,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Fields beyond `errcode` and `error`, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Matrix error response: status and body (boxed, so `Result`s that
/// carry it stay small).
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixError {
    pub status: u16,
    pub body: Box<ErrorBody>,
}

impl ErrorCode {
    fn missing() -> ErrorCode {
        ErrorCode::Other(String::new())
    }

    fn is_missing(&self) -> bool {
        matches!(self, ErrorCode::Other(code) if code.is_empty())
    }
}

impl MatrixError {
    pub fn new(status: u16, errcode: ErrorCode, error: impl Into<String>) -> Self {
        MatrixError {
            status,
            body: Box::new(ErrorBody {
                errcode,
                error: error.into(),
                extra: Map::new(),
            }),
        }
    }

    /// Adds an extra field to the body (`soft_logout`, `retry_after_ms`, …).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn errcode(&self) -> &ErrorCode {
        &self.body.errcode
    }

    /// `retry_after_ms` of a rate-limit error (also sent as `Retry-After`).
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.body.extra.get("retry_after_ms").and_then(Value::as_u64)
    }

    /// `soft_logout` of an `M_UNKNOWN_TOKEN` error.
    pub fn soft_logout(&self) -> bool {
        self.body
            .extra
            .get("soft_logout")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// 404 `M_UNRECOGNIZED`: the endpoint is not implemented (or not known).
    pub fn unrecognized() -> Self {
        Self::new(404, ErrorCode::Unrecognized, "Unrecognized request")
    }
    /// 405 `M_UNRECOGNIZED`: a known path with a method it does not have.
    pub fn method_not_allowed() -> Self {
        Self::new(405, ErrorCode::Unrecognized, "Method not allowed for this path")
    }
    pub fn not_json(detail: impl fmt::Display) -> Self {
        Self::new(400, ErrorCode::NotJson, format!("Request body is not JSON: {detail}"))
    }
    pub fn bad_json(detail: impl fmt::Display) -> Self {
        Self::new(
            400,
            ErrorCode::BadJson,
            format!("Request body does not match the expected shape: {detail}"),
        )
    }
    pub fn missing_param(detail: impl fmt::Display) -> Self {
        Self::new(400, ErrorCode::MissingParam, format!("Missing parameter: {detail}"))
    }
    pub fn invalid_param(detail: impl fmt::Display) -> Self {
        Self::new(400, ErrorCode::InvalidParam, format!("Invalid parameter: {detail}"))
    }
    pub fn missing_token() -> Self {
        Self::new(401, ErrorCode::MissingToken, "Missing access token")
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, ErrorCode::Unauthorized, detail)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            ErrorCode::TooLarge,
            format!("Request body is larger than {limit} bytes"),
        )
    }
    /// `429 M_LIMIT_EXCEEDED`, retry after `wait` (`retry_after_ms`).
    pub fn limit_exceeded(wait: std::time::Duration) -> Self {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        Self::new(429, ErrorCode::LimitExceeded, "Too many requests").with("retry_after_ms", ms)
    }
    /// `408`: the request body did not arrive in time (Matrix has no code
    /// of its own for this, so `M_UNKNOWN`).
    pub fn body_timeout(after: std::time::Duration) -> Self {
        Self::new(
            408,
            ErrorCode::Unknown,
            format!("The request body did not arrive within {} s", after.as_secs()),
        )
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, ErrorCode::Forbidden, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, ErrorCode::NotFound, detail)
    }
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.body.errcode, self.body.error)
    }
}

impl std::error::Error for MatrixError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_and_extra_fields_survive() {
        let json = r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":2000,"x":{"y":1}}"#;
        let body: ErrorBody = serde_json::from_str(json).unwrap();
        let err = MatrixError {
            status: 429,
            body: Box::new(body),
        };
        assert_eq!(err.errcode(), &ErrorCode::LimitExceeded);
        assert_eq!(err.retry_after_ms(), Some(2000));
        let back: Value = serde_json::to_value(&err.body).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
        let odd: ErrorBody = serde_json::from_str(r#"{"errcode":"ORG_EXAMPLE_ODD"}"#).unwrap();
        assert_eq!(odd.errcode.as_str(), "ORG_EXAMPLE_ODD");
    }
}
