"""What ops watch: queues, workers, issues in flight, failures, and Prometheus metrics."""
