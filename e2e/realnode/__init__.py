"""Real kubelet nodes beside the KWOK ones: containerd, CNI bridge, CoreDNS (see node.py)."""
