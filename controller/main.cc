// migrate: the controller CLI.
int main() { return 0; }
