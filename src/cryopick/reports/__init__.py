"""What people look at: figures (overlays, PR curves), the HTML report page, and the review page with its script."""
