//! Who may read what: the read side's authorization rules in one place.
//!
//! - An order, its history (and any live stream of it): its customer or an operator. For
//!   anyone else it does not exist (404), so probing ids leaks nothing.
//! - `GET /orders`: a customer lists only its own orders; an operator lists anyone's.
//! - `/stats/*`: operators.

use crate::error::ApiError;
use orderflow_auth::Principal;

/// The order `order_id` of customer `owner`, as `caller` may see it.
pub fn order_visible(caller: &Principal, owner: &str, order_id: &str) -> Result<(), ApiError> {
    if caller.may_act_for(owner) {
        Ok(())
    } else {
        Err(ApiError::NotFound(order_id.to_owned()))
    }
}

/// The customer filter of a listing: an operator's own choice, a customer's own id.
pub fn list_filter(
    caller: &Principal,
    requested: Option<String>,
) -> Result<Option<String>, ApiError> {
    if caller.is_operator() {
        return Ok(requested);
    }
    let Some(own) = caller.customer_id() else {
        return Err(ApiError::Forbidden(
            "Listing orders needs the customer or the operator role.",
        ));
    };
    match requested {
        Some(other) if other != own => Err(ApiError::Forbidden(
            "A customer may list only its own orders.",
        )),
        _ => Ok(Some(own.to_owned())),
    }
}

/// Analytics are for operators.
pub fn operators_only(caller: &Principal) -> Result<(), ApiError> {
    if caller.is_operator() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("Analytics are for operators."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_auth::Role;

    fn customer(id: &str) -> Principal {
        Principal::new(id, [Role::Customer])
    }

    fn operator() -> Principal {
        Principal::new("ops-1", [Role::Operator])
    }

    #[test]
    fn an_order_is_visible_to_its_customer_and_operators_only() {
        assert!(order_visible(&customer("c-1"), "c-1", "o").is_ok());
        assert!(order_visible(&operator(), "c-1", "o").is_ok());
        assert!(matches!(
            order_visible(&customer("c-2"), "c-1", "o"),
            Err(ApiError::NotFound(_))
        ));
    }

    #[test]
    fn a_customer_lists_only_its_own_orders() {
        assert_eq!(
            list_filter(&customer("c-1"), None).unwrap(),
            Some("c-1".into())
        );
        assert_eq!(
            list_filter(&customer("c-1"), Some("c-1".into())).unwrap(),
            Some("c-1".into())
        );
        assert!(matches!(
            list_filter(&customer("c-1"), Some("c-2".into())),
            Err(ApiError::Forbidden(_))
        ));
        assert_eq!(list_filter(&operator(), None).unwrap(), None);
        assert_eq!(
            list_filter(&operator(), Some("c-2".into())).unwrap(),
            Some("c-2".into())
        );
    }

    #[test]
    fn analytics_are_for_operators() {
        assert!(operators_only(&operator()).is_ok());
        assert!(operators_only(&Principal::new("a", [Role::Admin])).is_ok());
        assert!(operators_only(&customer("c-1")).is_err());
    }
}
