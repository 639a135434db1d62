from rep_deploy.cli import main

main()
