"""Everything that speaks Retell: the HTTP client, its errors and the webhook signature."""
