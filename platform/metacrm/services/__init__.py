"""Services: use cases above storage (metadata versions, records...); they never import Flask."""
