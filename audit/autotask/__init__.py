"""autotask."""
