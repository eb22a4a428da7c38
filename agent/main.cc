// migrate-agent: the node daemon.
int main() { return 0; }
