//! Third-party identifiers (email addresses) as both the homeserver and
//! the identity server compare them.

/// An email address as it is stored and compared: trimmed and in lower
/// case (the case of an address's local part is the mail server's to
/// mind, and every Matrix identity server folds it); `None` when it is not
/// `local@domain.tld`.
pub fn normalized_email(address: &str) -> Option<String> {
    let address = address.trim().to_lowercase();
    let (local, domain) = address.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace)).then_some(address)
}

#[cfg(test)]
mod tests {
    use super::normalized_email;

    #[test]
    fn addresses_are_folded_and_checked() {
        assert_eq!(
            normalized_email(" Bob@Example.ORG ").as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(normalized_email("bob@localhost"), None);
        assert_eq!(normalized_email("@example.org"), None);
        assert_eq!(normalized_email("b ob@example.org"), None);
        assert_eq!(normalized_email("bob"), None);
    }
}
