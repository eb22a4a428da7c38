// migrate: the controller CLI. Everything lives in controller/cli.cc.
#include "controller/cli.h"

int main(int argc, char** argv) {
  migrate::controller::CliEnvironment env = migrate::controller::ProcessCliEnvironment();
  return migrate::controller::RunCli(argc, argv, env);
}
