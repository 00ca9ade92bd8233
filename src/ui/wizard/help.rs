//! What the help pane (and `?` in line mode) says about each question and section: why it
//! matters, what AWS will do with it, and what it costs where it costs something. Prices are
//! us-east-1 on-demand list prices, rounded, to compare choices; the AWS bill is the truth.

use super::Section;
use super::fields::FieldId;

pub fn section_intro(s: Section) -> &'static str {
    match s {
        Section::Environment => {
            "Name this Medplum environment and pick where it runs. The name keys everything \
             medplum-init creates: the config file, the Parameter Store path and the stacks."
        }
        Section::Domains => {
            "Medplum serves three names: the API, the web app and the file storage. Each gets a \
             certificate and a DNS record."
        }
        Section::Capacity => {
            "How big the stack is. Everything here can be changed later in the config file and \
             redeployed; the defaults suit a first environment."
        }
        Section::Certificates => {
            "HTTPS certificates from ACM, free of charge. The API's lives in the stack's region, \
             the app's and storage's in us-east-1, where CloudFront reads them."
        }
        Section::SigningKey => {
            "Medplum signs links to stored files with a private key; CloudFront checks them with \
             the public half."
        }
        Section::Email => {
            "Medplum sends password resets and invitations through Amazon SES, from an address \
             SES has verified."
        }
        Section::Logging => {
            "Optional access logs of the API load balancer, kept in an S3 bucket of your own."
        }
        Section::Parameters => {
            "The server reads its settings from Parameter Store under /medplum/<name>/. \
             medplum-init writes the ones it derives, plus these, as SecureStrings. The web app \
             gets registration and the client ids too, when the deploy publishes it."
        }
        Section::Review => {
            "Everything the run will write, read from AWS just now. Nothing has been written yet."
        }
        Section::Deploy => "The prerequisites are in place. Deploy the stacks now or later.",
    }
}

pub fn field_help(f: FieldId) -> &'static str {
    use FieldId::*;
    match f {
        Name => {
            "A short name such as prod or staging: lower-case letters, digits and hyphens. It \
             names the config file (medplum.<name>.config.json), the Parameter Store path \
             /medplum/<name>/ and, by default, the CloudFormation stack. Changing it later means \
             a new environment."
        }
        Region => {
            "Where the stack runs: database, cache, servers and load balancer. Pick the region \
             closest to your users that your compliance rules allow. CloudFront's certificates \
             are always made in us-east-1, whatever you pick."
        }
        StackName => {
            "The CloudFormation stack's name. The default follows Medplum's own: Medplum plus \
             the environment name. Keep it unless you run several stacks per account with a \
             naming rule."
        }
        DomainName => {
            "The domain your Medplum lives under, normally a Route53 hosted zone in this \
             account, so records and certificate validation happen by themselves. The API, app \
             and storage names default to names under it."
        }
        Zone => {
            "The Route53 zone that holds the names. medplum-init writes certificate validation \
             records there, and the stack writes the API, app and storage records. Choose None \
             if your DNS is elsewhere: you will add the records yourself."
        }
        ApiDomain => {
            "The FHIR API's host name, served by the load balancer. Also sets baseUrl, which \
             every client and the app use."
        }
        AppDomain => {
            "The web app's host name, served by CloudFront. Medplum also names the app's S3 \
             bucket after it."
        }
        StorageDomain => {
            "The host name for stored files (attachments, binaries), served by CloudFront with \
             signed URLs."
        }
        StorageBucket => {
            "The S3 bucket holding stored files. Bucket names are global across all AWS \
             accounts, so the storage domain is a good, unique choice."
        }
        MaxAzs => {
            "Availability zones the network spans. Two is the minimum (the load balancer and \
             Aurora need two). Each zone gets a NAT gateway, about $33/month each plus data \
             processing, so more zones cost more but survive a zone outage."
        }
        RdsInstances => {
            "Aurora PostgreSQL instances. One is a writer only: cheapest, but a failure means \
             minutes of downtime while Aurora replaces it. Two adds a reader that takes over in \
             about a minute. Each instance is billed separately."
        }
        RdsInstanceType => {
            "The database instance class. Burstable t-classes suit light and test loads; \
             r-classes give steady performance for production. A t4g.medium is about \
             $50/month, an r6g.large about $190/month."
        }
        ServerCount => {
            "Medplum server tasks on Fargate behind the load balancer. Two or more keep the API \
             up during deploys and task failures; each task adds its CPU and memory cost."
        }
        ServerCpu => {
            "CPU units per server task: 1024 is one vCPU. Fargate allows only some memory sizes \
             per CPU size; the memory question lists the ones that fit."
        }
        ServerMemory => {
            "Memory per server task. Only sizes Fargate accepts for the CPU chosen are listed, \
             with the task's monthly cost. Medplum's default, 512 MiB, is enough to try it out; \
             production servers usually want 2 GiB or more."
        }
        ServerImage => {
            "The container image the servers run. Pin a version (medplum/medplum-server:5.0.10) \
             for production, so a redeploy never upgrades by surprise."
        }
        CertApi => {
            "The load balancer's certificate, in the stack's region. Reusing an issued \
             certificate that covers the name (wildcards count) is quickest; a new one is \
             validated through DNS and issued within minutes once the record is visible."
        }
        CertApp | CertStorage => {
            "CloudFront's certificate for this name, which must be in us-east-1. Reuse an \
             issued one that covers the name, or let medplum-init request one. Skip only if \
             you will set the ARN in the config file yourself."
        }
        CertDnsRecords => {
            "Write the validation CNAME records of new certificates into the hosted zone, so ACM \
             issues them without you touching DNS."
        }
        CertWait => {
            "Wait here until ACM issues the certificates (usually a few minutes), showing their \
             status live. The deploy needs issued certificates."
        }
        KeyMode => {
            "medplum-init generates an RSA-2048 key, stores the encrypted private key and its \
             passphrase as SecureString parameters, and registers the public key in CloudFront. \
             A key already in SSM is kept, so re-running never replaces it."
        }
        SigningKeyId => {
            "The id CloudFront shows for your public key (K followed by letters and digits). \
             Its private key and passphrase must already be in Parameter Store as signingKey \
             and signingKeyPassphrase."
        }
        SupportEmail => {
            "The address Medplum sends email from. SES must verify it (or its domain) before \
             Medplum can send; new SES accounts can only mail verified addresses until AWS \
             lifts the sandbox."
        }
        EmailIdentity => {
            "Verifying the address makes SES mail it a link to click. Verifying the domain \
             covers every address in it and needs DKIM records, written to Route53 when the \
             zone is here."
        }
        Advanced => {
            "Show the options larger and regulated installs use: RDS Proxy, the parameter-group \
             and cluster-ID settings of Medplum's major-version upgrade procedure, CloudTrail \
             alarms on account activity, and an existing VPC to deploy into. Most installs leave them off."
        }
        RdsProxy => {
            "Put an RDS Proxy between the servers and Aurora: it pools connections, so many \
             server tasks do not exhaust the database's connection limit, and it fails over \
             faster. The servers connect through it (databaseProxyEndpoint). It costs about \
             $0.015 per vCPU-hour of the database instances, at least 2 vCPUs: about $22 a \
             month for each db.t4g.medium."
        }
        RdsPersistentGroups => {
            "Give the cluster and its instances parameter groups named after the PostgreSQL \
             major version (MedplumPG16…), kept when the stack stops using them. Needed for \
             Medplum's major-version upgrade procedure. No cost. Switching it on an existing \
             cluster moves it to the new group; static parameters apply at the next reboot."
        }
        RdsIdsSuffix => {
            "Put the major version into the cluster's IDs (DatabaseClusterPG16…), so a new \
             major version is a new cluster beside the old one, which is kept. Only for a new \
             environment: on a deployed one it would start a new, empty cluster, and deploy \
             refuses that unless you allow the data risk."
        }
        CloudTrail => {
            "Alarm on the CIS benchmark's account events: unauthorized API calls, console \
             sign-in without MFA or failing, root use, and changes to IAM policies, CloudTrail, \
             KMS keys, bucket policies, security groups, network ACLs, gateways, route tables, \
             VPCs and Organizations, from every region. Fifteen alarms at $0.10 a month each, plus \
             CloudWatch Logs ingestion of the trail (about $0.50/GB)."
        }
        TrailLogGroup => {
            "The CloudWatch Logs group CloudTrail writes to and the alarms' metric filters \
             read. With \"Create the trail\" off it must exist already, filled by a trail of \
             yours (an organization trail, say)."
        }
        TrailCreate => {
            "Create the log group (kept a year, retained when the stack goes), a multi-region \
             trail with log file validation writing to it, and the trail's bucket. The first \
             trail of management events is free; a second one (if you have a trail already) costs \
             about $2 per 100,000 events. Off: use a group an existing \
             trail fills."
        }
        AlarmTopic => {
            "The SNS topic the alarms notify: a name creates it, an ARN \
             (arn:aws:sns:<region>:<account>:<topic>) uses yours, empty lets CloudFormation \
             name a new one. Subscribe your security team to it (email, chat) after the deploy; \
             a topic nobody subscribes to alarms no one."
        }
        VpcId => {
            "Deploy into a VPC you already have (vpc-…), such as one a landing zone provides. \
             The stack then builds no VPC, subnets or NAT gateways (about $33 a month per zone \
             saved) and puts the database, Redis and servers in the VPC's private subnets \
             (routed to a NAT or transit gateway, in at least as many zones as you chose) and \
             the load balancer in its public ones. Empty: the stack creates its VPC."
        }
        LbLogging => {
            "Keep the API load balancer's access logs in S3: useful for audits and debugging. \
             S3 storage costs apply (about $0.023 per GB-month)."
        }
        LbLoggingBucket => {
            "The bucket for the logs. Names are global across AWS accounts; the default includes \
             your account id to be unique."
        }
        CreateLoggingBucket => {
            "Create the bucket, private and encrypted, with the policy that lets Elastic Load \
             Balancing deliver logs to it. Leave this off if the bucket exists already."
        }
        RegisterEnabled => {
            "Whether anyone may create an account: the app shows its register page and the \
             server accepts sign-ups. Turn it off for a private deployment where you invite users."
        }
        ClientId => {
            "The id of the ClientApplication the web app signs in with. Leave it empty for \
             Medplum's default; after the first sign-in you can create one under Project Admin \
             and set it here, then run `medplum-init app`."
        }
        GoogleClientId => {
            "The OAuth client id for \"Sign in with Google\", from the Google Cloud console \
             (ends in .apps.googleusercontent.com). The app shows the button and the server \
             verifies the sign-in with the same id. Leave it empty to sign in with passwords only."
        }
        LogLevel => {
            "How much the server logs to CloudWatch. More logs cost more to ingest and keep."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_section_is_explained() {
        for f in FieldId::ALL {
            assert!(field_help(f).len() > 60, "{f:?}");
        }
        for s in Section::ALL {
            assert!(!section_intro(s).is_empty());
        }
    }
}
