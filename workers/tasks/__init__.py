"""Task modules, one per queue's workload."""
