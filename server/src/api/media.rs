//! Media: uploads stored as files (written to a temporary name, then
//! renamed, so a crash never leaves a half-written file under a media ID)
//! and authenticated downloads with the uploaded content type.

use super::{id, internal, random_id, Homeserver, Result};
use crate::store::MediaInfo;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{GetConfigAuthedResponse, UploadContentResponse};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{MatrixError, RawBody};

/// The largest upload; the router's body limit is set to match.
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

/// Types browsers may show inline (the spec's list); others download.
const INLINE_TYPES: &[&str] = &[
    "text/css",
    "text/plain",
    "text/csv",
    "application/json",
    "application/ld+json",
    "image/jpeg",
    "image/gif",
    "image/png",
    "image/apng",
    "image/webp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "audio/aac",
    "audio/mpeg",
    "audio/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wav",
    "audio/flac",
    "audio/x-flac",
];

pub(super) async fn upload(
    hs: &Homeserver,
    request: cs::upload_content::Request,
    credentials: Credentials,
) -> Result<cs::upload_content::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let body = request.body;
    let media_id = random_id(24);
    let temporary = hs.media_dir.join(format!(".upload-{media_id}"));
    tokio::fs::write(&temporary, &body.data).await.map_err(internal)?;
    let file = std::fs::File::open(&temporary).map_err(internal)?;
    file.sync_all().map_err(internal)?;
    tokio::fs::rename(&temporary, hs.media_dir.join(&media_id))
        .await
        .map_err(internal)?;
    hs.store
        .add_media(
            &media_id,
            &MediaInfo {
                uploader: user_id,
                content_type: body.content_type.filter(|t| !t.is_empty()),
                filename: request.query.filename,
                size: body.data.len() as i64,
            },
        )
        .map_err(internal)?;
    let content_uri = id(&format!("mxc://{}/{media_id}", hs.server_name))?;
    Ok(cs::upload_content::Response::Ok(UploadContentResponse::new(
        content_uri,
    )))
}

/// The `Content-Disposition` of a download.
fn disposition(content_type: Option<&str>, filename: Option<&str>) -> String {
    let essence = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let kind = if INLINE_TYPES.contains(&essence.as_str()) {
        "inline"
    } else {
        "attachment"
    };
    match filename {
        Some(name)
            if name
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ') =>
        {
            format!("{kind}; filename=\"{name}\"")
        }
        Some(name) => {
            let encoded: String = name
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{kind}; filename*=utf-8''{encoded}")
        }
        None => kind.to_owned(),
    }
}

async fn read(
    hs: &Homeserver,
    credentials: &Credentials,
    server_name: &str,
    media_id: &str,
    filename: Option<String>,
) -> Result<RawBody> {
    hs.user(credentials)?;
    let not_found = || MatrixError::not_found("Media not found");
    if server_name != hs.server_name || !media_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    let info = hs.store.media(media_id).map_err(internal)?.ok_or_else(not_found)?;
    let data = tokio::fs::read(hs.media_dir.join(media_id)).await.map_err(internal)?;
    let filename = filename.or(info.filename);
    Ok(RawBody {
        content_disposition: Some(disposition(info.content_type.as_deref(), filename.as_deref())),
        content_type: Some(
            info.content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
        ),
        data,
    })
}

pub(super) async fn download(
    hs: &Homeserver,
    request: cs::get_content_authed::Request,
    credentials: Credentials,
) -> Result<cs::get_content_authed::Response> {
    let p = request.path;
    let body = read(hs, &credentials, &p.server_name, &p.media_id, None).await?;
    Ok(cs::get_content_authed::Response::Ok(body))
}

pub(super) async fn download_as(
    hs: &Homeserver,
    request: cs::get_content_override_name_authed::Request,
    credentials: Credentials,
) -> Result<cs::get_content_override_name_authed::Response> {
    let p = request.path;
    let name = Some(p.file_name).filter(|n| !n.is_empty());
    let body = read(hs, &credentials, &p.server_name, &p.media_id, name).await?;
    Ok(cs::get_content_override_name_authed::Response::Ok(body))
}

pub(super) fn config(
    hs: &Homeserver,
    _: cs::get_config_authed::Request,
    credentials: Credentials,
) -> Result<cs::get_config_authed::Response> {
    hs.user(&credentials)?;
    Ok(cs::get_config_authed::Response::Ok(GetConfigAuthedResponse {
        m_upload_size: Some(MAX_UPLOAD_BYTES as i64),
    }))
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn safe_types_inline_others_attachment() {
        assert_eq!(
            disposition(Some("image/png"), Some("a.png")),
            "inline; filename=\"a.png\""
        );
        assert_eq!(disposition(Some("text/html"), None), "attachment");
        assert_eq!(
            disposition(None, Some("é.txt")),
            "attachment; filename*=utf-8''%C3%A9.txt"
        );
    }
}
