//! Which models of a level of a hierarchical merge are merged with which: the pairs the
//! script's `merge_order` hook returns, checked, or pairs in order.

use coevo_sdk::serde_json::Value;

/// `(0, 1), (2, 3), …`; with an odd count the last model waits for the next level.
pub fn in_order(count: usize) -> Vec<(usize, usize)> {
    (0..count / 2).map(|k| (2 * k, 2 * k + 1)).collect()
}

/// The pairs of a hook's answer: an array of `[i, j]` index pairs into the level's `count`
/// models, each model in at most one pair, at least one pair.
pub fn parse(value: &Value, count: usize) -> Result<Vec<(usize, usize)>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("expected an array of [i, j] pairs, found {value}"))?;
    let mut used = vec![false; count];
    let mut pairs = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let pair = item
            .as_array()
            .filter(|p| p.len() == 2)
            .ok_or_else(|| format!("item {k}: expected [i, j], found {item}"))?;
        let mut index = |v: &Value| -> Result<usize, String> {
            let i = v
                .as_u64()
                .map(|i| i as usize)
                .filter(|&i| i < count)
                .ok_or_else(|| format!("item {k}: {v} is not a model index below {count}"))?;
            if std::mem::replace(&mut used[i], true) {
                return Err(format!("item {k}: model {i} is already in a pair"));
            }
            Ok(i)
        };
        pairs.push((index(&pair[0])?, index(&pair[1])?));
    }
    if pairs.is_empty() && count >= 2 {
        return Err(format!(
            "no pairs for {count} models: the merge would never end"
        ));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use coevo_sdk::serde_json::json;

    use super::*;

    #[test]
    fn pairs_in_order_leave_the_odd_one_out() {
        assert_eq!(in_order(4), vec![(0, 1), (2, 3)]);
        assert_eq!(in_order(3), vec![(0, 1)]);
    }

    #[test]
    fn a_hook_answer_is_checked() {
        assert_eq!(
            parse(&json!([[3, 0], [1, 2]]), 4).unwrap(),
            vec![(3, 0), (1, 2)]
        );
        let fails = |v: Value, needle: &str| {
            let e = parse(&v, 4).unwrap_err();
            assert!(e.contains(needle), "{e}");
        };
        fails(json!({"a": 1}), "array of [i, j] pairs");
        fails(json!([[0, 1, 2]]), "item 0: expected [i, j]");
        fails(json!([[0, 4]]), "4 is not a model index below 4");
        fails(json!([[0, 1], [1, 2]]), "model 1 is already in a pair");
        fails(json!([[0, 0]]), "model 0 is already in a pair");
        fails(json!([]), "never end");
    }
}
