import type { SeedQuote } from '../types.js';

const file = '002_55f10d786eb5029f.txt';
const quote = (text: string): SeedQuote => ({ file, text });

/** Seed 002's own sentences, quoted by the zap cases. */
export const ZAP_SEED = {
  codes: quote(
    'Os dois primeiros caracteres da mensagem representam o seu código (01 para registrar, 02 resposta do pedido de registro). A resposta do servidor contém uma sequência de 13 dígitos que serão o identificador único daquele cliente.',
  ),
  unique: quote('Como resposta o servidor enviará uma mensagem com o código único gerado para o usuário.'),
  connect: quote(
    'Conectar cliente: processo realizado pelo cliente para se conectar ao servidor, seja pela primeira vez ou após alguma desconexão.',
  ),
  online: quote('Se o destinatário estiver online, realizar a entrega da mensagem de forma imediata'),
  offline: quote(
    'Se o destinatário não estiver online, armazenar a mensagem internamente e realizar sua entrega no momento que o cliente reconectar',
  ),
  format06: quote(
    'A entrega da mensagem por parte do servidor a um cliente segue o mesmo formato descrito acima, sendo a única diferença o seu código, que será 06',
  ),
  delivered: quote(
    'Quando o servidor conseguir entregar a mensagem para o cliente (destinatário), ele deverá notificar o originador sobre a entrega.',
  ),
  pending: quote(
    'Quando um cliente se conecta, o servidor deve verificar se existem mensagens pendentes para o cliente e realizar a sua entrega',
  ),
  read: quote(
    'Ao receber uma mensagem deste tipo, o servidor deverá gerar uma mensagem informando o cliente originador sobre a leitura da mensagem.',
  ),
  group: quote(
    'Ao receber esta mensagem o servidor deverá gerar um identificador único do grupo bem como notificar os membros (e o criador) que eles fazem parte agora de um grupo.',
  ),
  groupMembers: quote(
    'members é uma sequência de até 7 identificadores de 13 digitos indicando os demais membros do grupo',
  ),
  data: quote('data são até 218 caractéres de conteúdo que podem ser enviados'),
  utf8: quote(
    'Todas as mensagens devem ser codificadas em UTF-8 para garantir a consistência das implementações.',
  ),
};
