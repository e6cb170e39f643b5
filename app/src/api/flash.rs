//! A secret made by a plain form post (an API token, a webhook's signing secret) waits for
//! the page the browser is redirected to, which shows it once. It is split in two so that
//! neither the session store nor the browser alone holds it: the session keeps the secret
//! XOR a random pad (a one-time pad), the browser the pad, in a short-lived cookie for that
//! page only. Showing it deletes the cookie.

use crate::domain::AppError;
use leptos::prelude::*;

const COOKIE: &str = "premortem_new_secret";

fn session_key(page: &str) -> String {
    format!("new_secret_sealed {page}")
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn set_cookie(value: &str) {
    if let (Some(response), Ok(value)) =
        (use_context::<leptos_axum::ResponseOptions>(), axum::http::HeaderValue::from_str(value))
    {
        response.append_header(axum::http::header::SET_COOKIE, value);
    }
}

/// Keeps `secret` for the page at the path `page`, which shows it once, when the request is
/// a plain form post (its reply is a redirect to that page); a caller that asked for data
/// has the secret in the reply, and nothing is kept.
pub async fn keep(page: &str, secret: &str) -> Result<(), AppError> {
    if !super::is_html_form() {
        return Ok(());
    }
    use rand::RngCore;
    let mut pad = vec![0u8; secret.len()];
    rand::rngs::OsRng.fill_bytes(&mut pad);
    let sealed = hex::encode(xor(secret.as_bytes(), &pad));
    crate::ssr::auth::session()
        .await?
        .insert(&session_key(page), sealed)
        .await
        .map_err(|e| crate::ssr::error::internal("session", &e))?;
    let secure = crate::ssr::state()?.secure_cookies;
    set_cookie(&format!(
        "{COOKIE}={}; Path={page}; Max-Age=120; HttpOnly; SameSite=Strict{}",
        hex::encode(pad),
        if secure { "; Secure" } else { "" }
    ));
    Ok(())
}

/// The secret kept for the page at `page`, if the browser brought its pad; the pad cookie
/// is deleted with this response. (One page render may call this more than once.)
pub async fn take(page: &str) -> Result<Option<String>, AppError> {
    let session = crate::ssr::auth::session().await?;
    let sealed = session
        .get::<String>(&session_key(page))
        .await
        .map_err(|e| crate::ssr::error::internal("session", &e))?;
    let pad = use_context::<axum::http::request::Parts>().and_then(|parts| {
        parts.headers.get_all(axum::http::header::COOKIE).iter().find_map(|header| {
            header
                .to_str()
                .ok()?
                .split(';')
                .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('=').map(str::to_owned))
        })
    });
    let (Some(sealed), Some(pad)) = (sealed, pad) else {
        return Ok(None);
    };
    set_cookie(&format!("{COOKIE}=; Path={page}; Max-Age=0; HttpOnly; SameSite=Strict"));
    let (Ok(sealed), Ok(pad)) = (hex::decode(sealed), hex::decode(pad)) else {
        return Ok(None);
    };
    Ok(String::from_utf8(xor(&sealed, &pad)).ok().filter(|t| t.len() == sealed.len()))
}
